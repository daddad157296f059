//! Keeping capabilities off private networks (SSRF). A capability URL is written by whoever
//! wrote the file, and its host may be an argument; by default it must not reach loopback,
//! private, link-local or otherwise internal addresses.
//!
//! The check runs on the addresses a name *resolves to* (a DNS resolver hook), not the name,
//! so `localtest.me` or a rebinding name is caught; IP literals never reach a resolver, so
//! they are checked on the URL, including every redirect target.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Which private destinations capabilities may reach.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkPolicy {
    /// Everything is reachable (`capabilities.allow_private_networks: true`).
    pub allow_private: bool,
    /// Host names or IP literals that may be private (`capabilities.allowed_hosts`).
    pub allowed_hosts: BTreeSet<String>,
}

#[derive(Debug, thiserror::Error)]
#[error(
    "refused to connect to `{host}`: {why} (set `capabilities.allow_private_networks: true` or \
     list the host in `capabilities.allowed_hosts` to allow it)"
)]
pub struct Blocked {
    host: String,
    why: String,
}

impl NetworkPolicy {
    fn host_allowed(&self, host: &str) -> bool {
        self.allow_private
            || self
                .allowed_hosts
                .contains(host.trim_start_matches('[').trim_end_matches(']'))
    }

    /// Checks a URL whose host is an IP literal (names are checked at resolution).
    pub fn check_url(&self, url: &Url) -> Result<(), Blocked> {
        let Some(host) = url.host_str() else {
            return Ok(());
        };
        if self.host_allowed(host) {
            return Ok(());
        }
        let literal = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = literal.parse::<IpAddr>()
            && is_internal(ip)
        {
            return Err(Blocked {
                host: host.to_owned(),
                why: format!("{ip} is a private, loopback or link-local address"),
            });
        }
        Ok(())
    }

    /// A resolver for reqwest that drops internal addresses of hosts not allowed.
    pub fn resolver(self: &Arc<Self>) -> Arc<GuardedResolver> {
        Arc::new(GuardedResolver {
            policy: Arc::clone(self),
        })
    }
}

pub struct GuardedResolver {
    policy: Arc<NetworkPolicy>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = Arc::clone(&self.policy);
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if policy.host_allowed(&host) {
                return Ok(Box::new(found.into_iter()) as Addrs);
            }
            let public: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|a| !is_internal(a.ip()))
                .collect();
            if public.is_empty() && !found.is_empty() {
                let why = format!("it resolves to the internal address {}", found[0].ip());
                return Err(Box::new(Blocked { host, why }) as Box<_>);
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

/// Loopback, private, link-local, shared (CGNAT), benchmarking, unspecified, multicast and
/// broadcast ranges, and IPv6 unique-local and link-local; IPv4-mapped IPv6 addresses are
/// judged as the IPv4 address they carry. (Documentation ranges are not internal networks;
/// some sandboxes route public names through them.)
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (b == 18 || b == 19))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_internal(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn internal_ranges() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_internal(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["1.1.1.1", "151.101.0.223", "2606:4700::1111"] {
            assert!(!is_internal(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn ip_literals_are_checked_on_the_url() {
        let policy = NetworkPolicy::default();
        let url = Url::parse("http://127.0.0.1:8080/x").unwrap();
        assert!(policy.check_url(&url).is_err());
        let url6 = Url::parse("http://[::1]/x").unwrap();
        assert!(policy.check_url(&url6).is_err());
        assert!(
            policy
                .check_url(&Url::parse("https://crates.io/").unwrap())
                .is_ok()
        );
        let open = NetworkPolicy {
            allowed_hosts: BTreeSet::from(["127.0.0.1".to_owned()]),
            ..NetworkPolicy::default()
        };
        assert!(open.check_url(&url).is_ok());
    }

    #[tokio::test]
    async fn names_resolving_to_loopback_are_refused() {
        let policy = Arc::new(NetworkPolicy::default());
        let name: Name = "localhost".parse().unwrap();
        assert!(policy.resolver().resolve(name).await.is_err());
        let allowed = Arc::new(NetworkPolicy {
            allowed_hosts: BTreeSet::from(["localhost".to_owned()]),
            ..NetworkPolicy::default()
        });
        let name: Name = "localhost".parse().unwrap();
        assert!(allowed.resolver().resolve(name).await.is_ok());
    }
}

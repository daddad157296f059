//! Behavioural tests of the index: updates, filtering, ranking guarantees.

use serde_json::json;

use super::*;

fn tool(server: &str, name: &str, description: &str) -> ToolDoc {
    ToolDoc {
        server: server.to_owned(),
        name: name.to_owned(),
        title: None,
        description: description.to_owned(),
        input_schema: json!({"type": "object"}),
    }
}

fn names(hits: &[Hit]) -> Vec<String> {
    hits.iter()
        .map(|h| format!("{}/{}", h.server, h.tool))
        .collect()
}

#[test]
fn index_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<SearchIndex>();
}

#[test]
fn finds_by_split_identifier_and_stem() -> Result<(), SearchError> {
    let index = SearchIndex::new()?;
    index.replace_server(
        "gh",
        &[
            tool("gh", "listReleases", "Lists releases of a repository"),
            tool("gh", "get_user_by_id", "Fetch one account"),
        ],
    )?;
    assert_eq!(
        names(&index.search("release", 5, None)?)[0],
        "gh/listReleases"
    );
    assert_eq!(
        names(&index.search("getUserById", 5, None)?)[0],
        "gh/get_user_by_id"
    );
    Ok(())
}

#[test]
fn exact_match_beats_fuzzy_match() -> Result<(), SearchError> {
    let index = SearchIndex::new()?;
    index.replace_server(
        "s",
        &[
            tool("s", "lint_files", "Lint source files"),
            tool("s", "list_files", "List source files"),
        ],
    )?;
    // "list" is a real term, so it must not be bent towards "lint".
    assert_eq!(names(&index.search("list", 5, None)?), ["s/list_files"]);
    // "lsit" is unknown and gets corrected, still ranking the right tool first.
    assert_eq!(
        names(&index.search("lsit files", 5, None)?)[0],
        "s/list_files"
    );
    Ok(())
}

#[test]
fn unknown_words_are_corrected_to_indexed_terms() -> Result<(), SearchError> {
    let index = SearchIndex::new()?;
    index.replace_server(
        "s",
        &[
            tool("s", "search_papers", "Search papers by keyword"),
            tool("s", "download_paper", "Download one paper as PDF"),
        ],
    )?;
    assert_eq!(
        names(&index.search("serach papers", 5, None)?)[0],
        "s/search_papers"
    );
    assert_eq!(
        names(&index.search("downlaod", 5, None)?),
        ["s/download_paper"]
    );
    Ok(())
}

#[test]
fn server_filter_restricts_results() -> Result<(), SearchError> {
    let index = SearchIndex::new()?;
    index.replace_server("a", &[tool("a", "create_issue", "Create an issue")])?;
    index.replace_server("b", &[tool("b", "create_issue", "Create an issue")])?;
    assert_eq!(index.search("create issue", 10, None)?.len(), 2);
    assert_eq!(
        names(&index.search("create issue", 10, Some("b"))?),
        ["b/create_issue"]
    );
    assert!(index.search("create issue", 10, Some("nope"))?.is_empty());
    Ok(())
}

#[test]
fn replace_server_drops_old_tools() -> Result<(), SearchError> {
    let index = SearchIndex::new()?;
    index.replace_server("a", &[tool("a", "old_tool", "Frobnicate widgets")])?;
    index.replace_server("b", &[tool("b", "other", "Frobnicate gadgets")])?;
    index.replace_server("a", &[tool("a", "new_tool", "Polish widgets")])?;
    assert_eq!(names(&index.search("frobnicate", 10, None)?), ["b/other"]);
    assert_eq!(names(&index.search("widgets", 10, None)?), ["a/new_tool"]);
    index.remove_server("a")?;
    assert!(index.search("widgets", 10, None)?.is_empty());
    Ok(())
}

#[test]
fn batch_replace_indexes_every_server() -> Result<(), SearchError> {
    let index = SearchIndex::new()?;
    index.replace_servers(&[
        ("a".to_owned(), vec![tool("a", "ping", "Ping a host")]),
        ("b".to_owned(), vec![tool("b", "ping", "Ping a host")]),
    ])?;
    assert_eq!(index.search("ping", 10, None)?.len(), 2);
    Ok(())
}

#[test]
fn garbage_queries_give_empty_results_not_errors() -> Result<(), SearchError> {
    let index = SearchIndex::new()?;
    assert!(index.search("anything", 10, None)?.is_empty());
    index.replace_server("a", &[tool("a", "fetch", "Fetch a URL")])?;
    for query in [
        "",
        "   ",
        "\"",
        "((((",
        "name:",
        "a:b:c \"unclosed",
        "AND OR NOT",
        "*?~^",
        "https://example.com/x?y=1&z=[2]",
        "\u{0}\u{1f}",
        &"x".repeat(10_000),
    ] {
        index.search(query, 10, None)?;
    }
    assert_eq!(
        names(&index.search("fetch https://example.com", 10, None)?),
        ["a/fetch"]
    );
    assert!(index.search("fetch", 0, None)?.is_empty());
    Ok(())
}

#[test]
fn implied_words_help_but_do_not_outrank_literal_words() -> Result<(), SearchError> {
    let index = SearchIndex::new()?;
    index.replace_server(
        "git",
        &[
            tool("git", "delete_branch", "Delete a branch"),
            tool("git", "nuke_cache", "Nuke the local cache"),
        ],
    )?;
    assert_eq!(
        names(&index.search("nuke that branch", 10, None)?)[0],
        "git/delete_branch"
    );
    assert_eq!(names(&index.search("nuke", 10, None)?)[0], "git/nuke_cache");
    Ok(())
}

#[test]
fn many_updates_stay_consistent_while_merging() -> Result<(), SearchError> {
    let index = SearchIndex::new()?;
    index.replace_server("stable", &[tool("stable", "ping", "Ping a host")])?;
    for round in 0..20 {
        let name = format!("tool_{round}");
        index.replace_server("moving", &[tool("moving", &name, "Frobnicate widgets")])?;
        // Visible at once, and the previous version is gone, whatever merges run.
        assert_eq!(
            names(&index.search("frobnicate", 10, None)?),
            [format!("moving/{name}")]
        );
        assert_eq!(names(&index.search("ping", 10, None)?), ["stable/ping"]);
    }
    Ok(())
}

#[test]
fn notation_and_question_words_guide_ranking() -> Result<(), SearchError> {
    let index = SearchIndex::new()?;
    index.replace_server(
        "chat",
        &[
            tool("chat", "channel_history", "Recent messages of a channel"),
            tool("chat", "list_users", "List workspace users"),
            tool("chat", "post_message", "Post a message"),
        ],
    )?;
    assert_eq!(
        names(&index.search("what was said in #general", 3, None)?)[0],
        "chat/channel_history"
    );
    assert_eq!(
        names(&index.search("who is here", 3, None)?)[0],
        "chat/list_users"
    );
    Ok(())
}

/// Updates that empty whole segments (each replaces every tool of a backend) while the
/// background merge runs: no merge may fail on a segment a commit has just dropped, and the
/// index still ends in one segment with only the newest tools.
#[test]
fn merges_survive_updates_that_drop_segments() -> Result<(), SearchError> {
    let index = SearchIndex::new()?;
    for round in 0..200 {
        index.replace_server("a", &[tool("a", &format!("alpha_{round}"), "first")])?;
        index.replace_server("b", &[tool("b", &format!("beta_{round}"), "second")])?;
        if round % 5 == 0 {
            index.remove_server("b")?;
        }
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while segment_ids(&index.reader).is_some() || index.merges.running.load(Ordering::Acquire) {
        assert!(
            std::time::Instant::now() < deadline,
            "the index never compacted"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(index.merge_failures(), 0);
    assert_eq!(names(&index.search("alpha", 5, None)?), ["a/alpha_199"]);
    assert_eq!(names(&index.search("beta", 5, None)?), ["b/beta_199"]);
    Ok(())
}

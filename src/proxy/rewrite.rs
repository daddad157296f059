//! Namespacing the URIs inside results. This is the one documented exception to
//! "results pass through unchanged": a client must be able to read back every resource
//! it was given, so `resource_link` and embedded `resource` blocks in tool and prompt
//! results, read contents, and list entries all carry the gateway's URI form.

use rmcp::model::{
    CallToolResult, ContentBlock, GetPromptResult, ReadResourceResult, Resource, ResourceContents,
    ResourceTemplate,
};

use super::uri::Namespace;

/// The URIs of one backend's results, turned into what the client sees.
pub struct Rewriter<'a> {
    pub ns: &'a Namespace,
    pub server: &'a str,
}

impl Rewriter<'_> {
    fn uri(&self, uri: &mut String) {
        *uri = self.ns.wrap(self.server, uri);
    }

    pub fn resource(&self, resource: &mut Resource) {
        self.uri(&mut resource.uri);
    }

    pub fn template(&self, template: &mut ResourceTemplate) {
        self.uri(&mut template.uri_template);
    }

    pub fn contents(&self, contents: &mut ResourceContents) {
        match contents {
            ResourceContents::TextResourceContents { uri, .. }
            | ResourceContents::BlobResourceContents { uri, .. } => self.uri(uri),
            // A kind of contents rmcp does not know yet carries no URI we could see.
            _ => {}
        }
    }

    pub fn block(&self, block: &mut ContentBlock) {
        match block {
            ContentBlock::ResourceLink(link) => self.resource(link),
            ContentBlock::Resource(embedded) => self.contents(&mut embedded.resource),
            _ => {}
        }
    }

    pub fn tool_result(&self, result: &mut CallToolResult) {
        result.content.iter_mut().for_each(|b| self.block(b));
    }

    pub fn prompt(&self, result: &mut GetPromptResult) {
        for message in &mut result.messages {
            self.block(&mut message.content);
        }
    }

    pub fn read(&self, result: &mut ReadResourceResult) {
        result.contents.iter_mut().for_each(|c| self.contents(c));
    }
}

/// Whether a tool result carries anything to rewrite (most do not: skip the walk).
pub fn has_resources(result: &CallToolResult) -> bool {
    result
        .content
        .iter()
        .any(|b| matches!(b, ContentBlock::ResourceLink(_) | ContentBlock::Resource(_)))
}

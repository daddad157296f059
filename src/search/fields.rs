//! The index schema: which parts of a tool are indexed, and how strongly each
//! counts when ranking.

use tantivy::TantivyDocument;
use tantivy::schema::{
    Field, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions,
};

use super::ToolDoc;
use super::schema_text;
use super::tokenizer::ANALYZER;

/// Handles to every field of the schema.
#[derive(Clone, Copy)]
pub struct Fields {
    /// `server/tool`, unique per document.
    pub key: Field,
    /// Raw server name, for filtering and deleting.
    pub server: Field,
    /// Raw tool name, returned in hits.
    pub tool: Field,
    pub name: Field,
    pub title: Field,
    pub description: Field,
    pub params: Field,
    pub param_docs: Field,
    pub server_text: Field,
}

impl Fields {
    /// Ranked text fields with their boosts. The name is the most specific
    /// statement of what a tool does; parameter descriptions are long,
    /// repetitive ("The owner of the repository") and only break ties.
    pub fn weighted(&self) -> [(Field, f32); 6] {
        [
            (self.name, 3.0),
            (self.title, 2.0),
            (self.description, 1.0),
            (self.params, 0.5),
            (self.param_docs, 0.3),
            (self.server_text, 1.0),
        ]
    }

    /// The ranked fields, each flagged when written as words rather than
    /// schema identifiers (parameter names are glued identifiers).
    pub fn vocabulary_fields(&self) -> [(Field, bool); 6] {
        self.weighted()
            .map(|(f, _)| (f, f != self.params && f != self.param_docs))
    }
}

pub fn build_schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    // Freqs but no positions: queries are bags of terms, never phrases.
    let text = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(ANALYZER)
            .set_index_option(IndexRecordOption::WithFreqs),
    );
    let fields = Fields {
        key: builder.add_text_field("key", STRING),
        server: builder.add_text_field("server", STRING | STORED),
        tool: builder.add_text_field("tool", STORED),
        name: builder.add_text_field("name", text.clone()),
        title: builder.add_text_field("title", text.clone()),
        description: builder.add_text_field("description", text.clone()),
        params: builder.add_text_field("params", text.clone()),
        param_docs: builder.add_text_field("param_docs", text.clone()),
        server_text: builder.add_text_field("server_text", text),
    };
    (builder.build(), fields)
}

/// The document for `tool`, filed under `server` whatever `tool.server` says.
pub fn document(fields: &Fields, server: &str, tool: &ToolDoc) -> TantivyDocument {
    let schema = schema_text::extract(&tool.input_schema);
    let mut doc = TantivyDocument::default();
    doc.add_text(fields.key, format!("{server}/{}", tool.name));
    doc.add_text(fields.server, server);
    doc.add_text(fields.tool, &tool.name);
    doc.add_text(fields.name, &tool.name);
    if let Some(title) = &tool.title {
        doc.add_text(fields.title, title);
    }
    doc.add_text(fields.description, &tool.description);
    doc.add_text(fields.params, &schema.names);
    doc.add_text(fields.param_docs, &schema.descriptions);
    doc.add_text(fields.server_text, server);
    doc
}

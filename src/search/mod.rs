//! TEMPORARY stub; replaced by the real search module.
pub struct ToolDoc {
    pub server: String,
    pub name: String,
    pub title: Option<String>,
    pub description: String,
    pub input_schema: serde_json::Value,
}
pub struct Hit {
    pub server: String,
    pub tool: String,
    pub score: f32,
}
#[derive(Debug, thiserror::Error)]
#[error("search error")]
pub struct SearchError;
pub struct SearchIndex;
impl SearchIndex {
    pub fn new() -> Result<Self, SearchError> {
        Ok(SearchIndex)
    }
    pub fn replace_server(&self, _server: &str, _tools: &[ToolDoc]) -> Result<(), SearchError> {
        Ok(())
    }
    pub fn search(
        &self,
        _q: &str,
        _limit: usize,
        _server: Option<&str>,
    ) -> Result<Vec<Hit>, SearchError> {
        Ok(vec![])
    }
}

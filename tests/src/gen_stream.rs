//! Generated command streams (placeholder: filled by its family's differential test).

//! End-to-end tests of the whole pipeline, in one binary (one link of the whole pipeline
//! instead of one per file).

mod dashboards;
mod dead_letters_and_repeats;
mod pipeline;
mod queries_doc;
mod readme;
mod tables_doc;

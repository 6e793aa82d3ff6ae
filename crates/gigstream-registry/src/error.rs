//! What can go wrong talking to a schema registry. Every message names the registry request
//! (method and URL, never a credential) and says what to check.

/// A failed registry request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// HTTP 404: the subject, version or schema does not exist.
    #[error("{what} not found: {request} answered 404{}{}; check the name (and the subject strategy) and that this is the registry the producers use", code_text(*error_code), message_text(message))]
    NotFound {
        /// `subject 'orders-value'`, `schema id 17`, ...
        what: String,
        /// `GET http://host:8081/subjects/orders-value/versions/latest`.
        request: String,
        /// The registry's `error_code` (40401 subject, 40402 version, 40403 schema).
        error_code: Option<u32>,
        message: String,
    },
    /// The registry could not be reached or could not answer: connection refused, DNS, TLS,
    /// timeout, HTTP 5xx, 408, 429. Worth retrying ([`RegistryError::is_retryable`]).
    #[error("schema registry unavailable: {request}: {message}")]
    Unavailable { request: String, message: String },
    /// HTTP 4xx other than 404: the registry understood and said no (401/403 credentials,
    /// 409 incompatible schema, 422 invalid schema or level). Retrying does not help.
    #[error("{request} was refused with HTTP {status}{}: {message}; {}", code_text(*error_code), refused_hint(*status))]
    Refused {
        request: String,
        status: u16,
        error_code: Option<u32>,
        message: String,
    },
    /// The answer is not what a Confluent-compatible registry gives.
    #[error("{request}: unexpected answer: {message}; check that the url points at the registry's Confluent-compatible API (Apicurio: .../apis/ccompat/v7)")]
    BadAnswer { request: String, message: String },
    /// The schema under an id is not Avro (`schemaType` PROTOBUF or JSON).
    #[error("{request}: schema id {id} is a {schema_type} schema, not Avro; gigstream's topics carry Avro: check the producer's serializer")]
    NotAvro {
        request: String,
        id: u32,
        schema_type: String,
    },
    /// The client's settings are unusable (URL, CA file).
    #[error("schema registry settings: {message}")]
    Config { message: String },
}

fn code_text(code: Option<u32>) -> String {
    code.map(|c| format!(" (error_code {c})"))
        .unwrap_or_default()
}

fn message_text(m: &str) -> String {
    if m.is_empty() {
        String::new()
    } else {
        format!(": {m}")
    }
}

fn refused_hint(status: u16) -> &'static str {
    match status {
        401 => "check the username and password (schema_registry.username, password)",
        403 => "the user may not do this: check its permissions on the registry",
        409 => "the schema is not compatible with the subject's versions under its compatibility level (check_compatibility says why), or the subject is soft-deleted",
        422 => "the schema (or compatibility level) is invalid: check its text",
        _ => "check the request",
    }
}

impl RegistryError {
    /// Whether trying again later may succeed (the registry was unavailable).
    pub fn is_retryable(&self) -> bool {
        matches!(self, RegistryError::Unavailable { .. })
    }

    /// The HTTP status the registry answered, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            RegistryError::NotFound { .. } => Some(404),
            RegistryError::Refused { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The registry's `error_code`, if it gave one.
    pub fn error_code(&self) -> Option<u32> {
        match self {
            RegistryError::NotFound { error_code, .. }
            | RegistryError::Refused { error_code, .. } => *error_code,
            _ => None,
        }
    }
}

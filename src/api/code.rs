//! The stable error codes: the `code` of every error body, the `error_code` of every audit
//! event, and the one place each is mapped to an HTTP status.
//!
//! Clients branch on these strings, so a code is never renamed or reused for another meaning;
//! a new condition gets a new code. The OpenAPI `Error` schema lists them as an `enum`, and a
//! test keeps that list equal to [`ErrorCode::ALL`].

/// Every error code the daemon sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// 400: a field, parameter or header breaks a rule (the details name it).
    ValidationError,
    /// 400: the request could not be read at all.
    BadRequest,
    /// 401: no valid API token.
    Unauthorized,
    /// 403: the token's roles do not allow the route.
    Forbidden,
    /// 404: no such resource (also for another tenant's: existence is never revealed).
    NotFound,
    /// 404: an unmanaged root has no revocation list here.
    NoCertificateRevocationList,
    /// 405.
    MethodNotAllowed,
    /// 409: a key with that keyId exists.
    KeyIdExists,
    /// 409: the key belongs to a root CA or a signer.
    KeyInUse,
    /// 409: the root CA still has signers.
    CaInUse,
    /// 409: a signer's certificate is set and differs from the one sent.
    CertificateImmutable,
    /// 409: a per-tenant or per-root limit is reached.
    LimitReached,
    /// 409: the same root certificate is uploaded already.
    RootExists,
    /// 409: the storedCertificateId is taken.
    StoredCertificateIdExists,
    /// 413.
    PayloadTooLarge,
    /// 415.
    UnsupportedMediaType,
    /// 500: a bug or a database failure; the cause is logged, never sent.
    InternalError,
    /// 500: the token refused an operation that is not an outage.
    TokenError,
    /// 503: the token is away; retry later.
    TokenUnavailable,
    /// 503: `/readyz` says the token or the database is not ready.
    NotReady,
    /// 503: the request did not start in time; nothing of it was done.
    RequestTimeout,
    /// 503: every connection slot is in use (only health probes are served).
    ServerBusy,
    /// 429: too many failed authentications from the client's address; retry later.
    TooManyRequests,
    /// 409: the ecosystem has no VICAL configuration to publish with.
    VicalNotConfigured,
    /// 409: no active signer of the needed family (a VICAL needs an active VICAL signer).
    NoActiveSigner,
    /// 409: a member of the VICAL cannot be listed (e.g. its IACA expired since it was added).
    VicalMemberInvalid,
    /// 409: no CRL here could list the certificate (self-signed, or its issuer's key is not
    /// held here).
    NotRevocable,
    /// 409: the signer is revoked; it signs nothing again.
    SignerRevoked,
}

impl ErrorCode {
    pub const ALL: &'static [ErrorCode] = &[
        ErrorCode::ValidationError,
        ErrorCode::BadRequest,
        ErrorCode::Unauthorized,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::NoCertificateRevocationList,
        ErrorCode::MethodNotAllowed,
        ErrorCode::KeyIdExists,
        ErrorCode::KeyInUse,
        ErrorCode::CaInUse,
        ErrorCode::CertificateImmutable,
        ErrorCode::LimitReached,
        ErrorCode::RootExists,
        ErrorCode::StoredCertificateIdExists,
        ErrorCode::PayloadTooLarge,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::InternalError,
        ErrorCode::TokenError,
        ErrorCode::TokenUnavailable,
        ErrorCode::NotReady,
        ErrorCode::RequestTimeout,
        ErrorCode::ServerBusy,
        ErrorCode::TooManyRequests,
        ErrorCode::VicalNotConfigured,
        ErrorCode::NoActiveSigner,
        ErrorCode::VicalMemberInvalid,
        ErrorCode::NotRevocable,
        ErrorCode::SignerRevoked,
    ];

    /// The code's wire string (the variant's name).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::ValidationError => "ValidationError",
            ErrorCode::BadRequest => "BadRequest",
            ErrorCode::Unauthorized => "Unauthorized",
            ErrorCode::Forbidden => "Forbidden",
            ErrorCode::NotFound => "NotFound",
            ErrorCode::NoCertificateRevocationList => "NoCertificateRevocationList",
            ErrorCode::MethodNotAllowed => "MethodNotAllowed",
            ErrorCode::KeyIdExists => "KeyIdExists",
            ErrorCode::KeyInUse => "KeyInUse",
            ErrorCode::CaInUse => "CaInUse",
            ErrorCode::CertificateImmutable => "CertificateImmutable",
            ErrorCode::LimitReached => "LimitReached",
            ErrorCode::RootExists => "RootExists",
            ErrorCode::StoredCertificateIdExists => "StoredCertificateIdExists",
            ErrorCode::PayloadTooLarge => "PayloadTooLarge",
            ErrorCode::UnsupportedMediaType => "UnsupportedMediaType",
            ErrorCode::InternalError => "InternalError",
            ErrorCode::TokenError => "TokenError",
            ErrorCode::TokenUnavailable => "TokenUnavailable",
            ErrorCode::NotReady => "NotReady",
            ErrorCode::RequestTimeout => "RequestTimeout",
            ErrorCode::ServerBusy => "ServerBusy",
            ErrorCode::TooManyRequests => "TooManyRequests",
            ErrorCode::VicalNotConfigured => "VicalNotConfigured",
            ErrorCode::NoActiveSigner => "NoActiveSigner",
            ErrorCode::VicalMemberInvalid => "VicalMemberInvalid",
            ErrorCode::NotRevocable => "NotRevocable",
            ErrorCode::SignerRevoked => "SignerRevoked",
        }
    }

    /// The HTTP status every response with this code has.
    pub fn status(self) -> u16 {
        match self {
            ErrorCode::ValidationError | ErrorCode::BadRequest => 400,
            ErrorCode::Unauthorized => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::NotFound | ErrorCode::NoCertificateRevocationList => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::KeyIdExists
            | ErrorCode::KeyInUse
            | ErrorCode::CaInUse
            | ErrorCode::CertificateImmutable
            | ErrorCode::LimitReached
            | ErrorCode::RootExists
            | ErrorCode::StoredCertificateIdExists
            | ErrorCode::VicalNotConfigured
            | ErrorCode::NoActiveSigner
            | ErrorCode::VicalMemberInvalid
            | ErrorCode::NotRevocable
            | ErrorCode::SignerRevoked => 409,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::UnsupportedMediaType => 415,
            ErrorCode::TooManyRequests => 429,
            ErrorCode::InternalError | ErrorCode::TokenError => 500,
            ErrorCode::TokenUnavailable
            | ErrorCode::NotReady
            | ErrorCode::RequestTimeout
            | ErrorCode::ServerBusy => 503,
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_listed_once_with_its_own_name() {
        // ALL holds every variant in declaration order (the last one's discriminant + 1).
        assert_eq!(ErrorCode::ALL.len(), ErrorCode::SignerRevoked as usize + 1);
        for (i, c) in ErrorCode::ALL.iter().enumerate() {
            assert_eq!(*c as usize, i);
        }
        let mut names: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        for c in ErrorCode::ALL {
            assert_eq!(format!("{c:?}"), c.as_str());
            assert!((400..600).contains(&c.status()));
        }
        names.sort();
        names.dedup();
        assert_eq!(names.len(), ErrorCode::ALL.len());
    }
}

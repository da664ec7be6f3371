//! The route table: every (method, path) the daemon serves, who may call it, and which
//! handler runs. One table drives dispatch, 404/405, role checks, metrics labels and the
//! OpenAPI consistency test, so they cannot drift apart.

use super::ca::{CaOp, Resource};
use super::dts::DtsOp;
use crate::service::auth::Role;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No token needed (health, metrics, the OpenAPI document).
    Public,
    /// A valid token with at least one of these roles.
    Roles(&'static [Role]),
    /// A console page (HTML, `http::console`): its session cookie is checked there, and
    /// each action it performs is allowed by the roles of the API route of that action
    /// ([`roles_of`]), so the console can do no more than the session's token could.
    /// Not in the OpenAPI document, which describes the JSON API.
    Console,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteId {
    Healthz,
    Readyz,
    OpenApi,
    Metrics,
    KeysCreate,
    KeysList,
    KeyGet,
    KeyDelete,
    AuditList,
    X509IacaCreate,
    X509DocumentSignerCreate,
    X509CertificateCreate,
    X509CsrCreate,
    X509StoreList,
    X509StoreListIds,
    X509StoreGet,
    X509StoreDelete,
    /// Root CAs and signers (issue 4): which resource, which operation.
    Ca(super::ca::Resource, super::ca::CaOp),
    HolderCaCrl,
    MobileSign,
    MobileSignMso,
    MobileRevoke,
    /// Public: a status list's token, and the list of their URIs.
    StatusListToken,
    StatusListDistribution,
    WalletAttestation,
    /// Ecosystems, participants, VICAL configuration (issue 13).
    Dts(super::dts::DtsOp),
    /// `GET /crl/{caId}.crl`, public.
    PublicCrl,
    X509CertificateRevoke,
    /// The operator console (HTML).
    Console(super::console::Page),
}

impl RouteId {
    /// The audit event of a state-changing route (its operation's), so that a refusal in
    /// the HTTP layer is recorded as `<EVENT>_START` + `<EVENT>_FAIL` like any other.
    pub fn audit_event(self) -> Option<String> {
        let s = |e: &str| Some(e.to_owned());
        match self {
            RouteId::KeysCreate => s("KEY_CREATE"),
            RouteId::KeyDelete => s("KEY_DELETE"),
            RouteId::X509IacaCreate => s("X509_IACA_CERTIFICATE_CREATE"),
            RouteId::X509DocumentSignerCreate => s("X509_DOCUMENT_SIGNER_CERTIFICATE_CREATE"),
            RouteId::X509CertificateCreate => s("X509_CERTIFICATE_CREATE"),
            RouteId::X509CsrCreate => s("X509_CSR_CREATE"),
            RouteId::X509StoreDelete => s("X509_STORE_CERTIFICATE_DELETE"),
            RouteId::X509CertificateRevoke => s("X509_CERTIFICATE_REVOKE"),
            RouteId::MobileSign | RouteId::MobileSignMso => s("MOBILE_CREDENTIAL_SIGN"),
            RouteId::MobileRevoke => s("MOBILE_CREDENTIAL_REVOKE"),
            RouteId::WalletAttestation => s("CREDENTIAL_HOLDER_WALLET_ATTESTATION_CREATE"),
            RouteId::Dts(op) => op.audit_event().map(str::to_owned),
            RouteId::Ca(resource, action) => {
                let verb = match action {
                    CaOp::Create => "CREATE",
                    CaOp::Update => "UPDATE",
                    CaOp::Delete => "DELETE",
                    CaOp::Revoke => "REVOKE",
                    CaOp::List | CaOp::Get => return None,
                };
                Some(format!("{}_{verb}", super::ca::event_prefix(resource)))
            }
            _ => None,
        }
    }

    /// Whether the route reads a query string (pagination, filters). Every other protected
    /// route refuses one, as list routes refuse unknown parameters: a mistyped or smuggled
    /// parameter is a 400 naming it, never silently ignored.
    pub fn takes_query(self) -> bool {
        matches!(
            self,
            RouteId::KeysList
                | RouteId::AuditList
                | RouteId::X509StoreList
                | RouteId::X509StoreListIds
                | RouteId::Ca(_, CaOp::List)
        ) || matches!(self, RouteId::Dts(op) if op.takes_query())
    }
}

#[derive(Debug, Clone, Copy)]
pub struct RouteDef {
    pub method: &'static str,
    /// Path template; `{name}` segments are parameters.
    pub pattern: &'static str,
    pub access: Access,
    pub id: RouteId,
}

const KEYS: &[Role] = &[Role::Admin, Role::Issuer];
const AUDIT: &[Role] = &[Role::Admin, Role::Auditor];
const X509: &[Role] = &[Role::Admin, Role::Issuer];
const DTS: &[Role] = &[Role::Admin, Role::DtsProvider];
const HOLDER: &[Role] = &[Role::Admin, Role::Holder];
const MOBILE: &[Role] = &[Role::Admin, Role::Issuer];

pub const ROUTES: &[RouteDef] = &[
    RouteDef {
        method: "GET",
        pattern: "/healthz",
        access: Access::Public,
        id: RouteId::Healthz,
    },
    RouteDef {
        method: "GET",
        pattern: "/readyz",
        access: Access::Public,
        id: RouteId::Readyz,
    },
    RouteDef {
        method: "GET",
        pattern: "/openapi.json",
        access: Access::Public,
        id: RouteId::OpenApi,
    },
    RouteDef {
        method: "GET",
        pattern: "/metrics",
        access: Access::Public,
        id: RouteId::Metrics,
    },
    RouteDef {
        method: "POST",
        pattern: "/v1/keys",
        access: Access::Roles(KEYS),
        id: RouteId::KeysCreate,
    },
    RouteDef {
        method: "GET",
        pattern: "/v1/keys",
        access: Access::Roles(KEYS),
        id: RouteId::KeysList,
    },
    RouteDef {
        method: "GET",
        pattern: "/v1/keys/{keyId}",
        access: Access::Roles(KEYS),
        id: RouteId::KeyGet,
    },
    RouteDef {
        method: "DELETE",
        pattern: "/v1/keys/{keyId}",
        access: Access::Roles(KEYS),
        id: RouteId::KeyDelete,
    },
    RouteDef {
        method: "GET",
        pattern: "/v1/audit-events",
        access: Access::Roles(AUDIT),
        id: RouteId::AuditList,
    },
    // `.../certificates/ids` comes before `.../certificates/{certificateId}`: the first
    // matching route wins.
    RouteDef {
        method: "POST",
        pattern: "/v1/{target}/x509-service-api/iso/iacas",
        access: Access::Roles(X509),
        id: RouteId::X509IacaCreate,
    },
    RouteDef {
        method: "POST",
        pattern: "/v1/{target}/x509-service-api/iso/document-signers",
        access: Access::Roles(X509),
        id: RouteId::X509DocumentSignerCreate,
    },
    RouteDef {
        method: "POST",
        pattern: "/v1/{target}/x509-service-api/certificate",
        access: Access::Roles(X509),
        id: RouteId::X509CertificateCreate,
    },
    RouteDef {
        method: "POST",
        pattern: "/v1/{target}/x509-service-api/csrs",
        access: Access::Roles(X509),
        id: RouteId::X509CsrCreate,
    },
    RouteDef {
        method: "GET",
        pattern: "/v1/{store}/x509-store-api/certificates",
        access: Access::Roles(X509),
        id: RouteId::X509StoreList,
    },
    RouteDef {
        method: "GET",
        pattern: "/v1/{store}/x509-store-api/certificates/ids",
        access: Access::Roles(X509),
        id: RouteId::X509StoreListIds,
    },
    RouteDef {
        method: "GET",
        pattern: "/v1/{store}/x509-store-api/certificates/{certificateId}",
        access: Access::Roles(X509),
        id: RouteId::X509StoreGet,
    },
    RouteDef {
        method: "DELETE",
        pattern: "/v1/{store}/x509-store-api/certificates/{certificateId}",
        access: Access::Roles(X509),
        id: RouteId::X509StoreDelete,
    },
    RouteDef {
        method: "POST",
        pattern: "/v1/ecosystems/certificates/ca",
        access: Access::Roles(DTS),
        id: RouteId::Ca(Resource::DtsCa, CaOp::Create),
    },
    RouteDef {
        method: "GET",
        pattern: "/v1/ecosystems/certificates/ca",
        access: Access::Roles(DTS),
        id: RouteId::Ca(Resource::DtsCa, CaOp::List),
    },
    RouteDef {
        method: "GET",
        pattern: "/v1/ecosystems/certificates/ca/{caId}",
        access: Access::Roles(DTS),
        id: RouteId::Ca(Resource::DtsCa, CaOp::Get),
    },
    RouteDef {
        method: "PUT",
        pattern: "/v1/ecosystems/certificates/ca/{caId}",
        access: Access::Roles(DTS),
        id: RouteId::Ca(Resource::DtsCa, CaOp::Update),
    },
    RouteDef {
        method: "DELETE",
        pattern: "/v1/ecosystems/certificates/ca/{caId}",
        access: Access::Roles(DTS),
        id: RouteId::Ca(Resource::DtsCa, CaOp::Delete),
    },
    RouteDef {
        method: "POST",
        pattern: "/v1/ecosystems/certificates/vical-signers",
        access: Access::Roles(DTS),
        id: RouteId::Ca(Resource::VicalSigner, CaOp::Create),
    },
    RouteDef {
        method: "GET",
        pattern: "/v1/ecosystems/certificates/vical-signers",
        access: Access::Roles(DTS),
        id: RouteId::Ca(Resource::VicalSigner, CaOp::List),
    },
    RouteDef {
        method: "GET",
        pattern: "/v1/ecosystems/certificates/vical-signers/{vicalSignerId}",
        access: Access::Roles(DTS),
        id: RouteId::Ca(Resource::VicalSigner, CaOp::Get),
    },
    RouteDef {
        method: "PUT",
        pattern: "/v1/ecosystems/certificates/vical-signers/{vicalSignerId}",
        access: Access::Roles(DTS),
        id: RouteId::Ca(Resource::VicalSigner, CaOp::Update),
    },
    RouteDef {
        method: "DELETE",
        pattern: "/v1/ecosystems/certificates/vical-signers/{vicalSignerId}",
        access: Access::Roles(DTS),
        id: RouteId::Ca(Resource::VicalSigner, CaOp::Delete),
    },
    RouteDef {
        method: "POST",
        pattern: "/v1/holder/certificates/ca",
        access: Access::Roles(HOLDER),
        id: RouteId::Ca(Resource::HolderCa, CaOp::Create),
    },
    RouteDef {
        method: "GET",
        pattern: "/v1/holder/certificates/ca",
        access: Access::Roles(HOLDER),
        id: RouteId::Ca(Resource::HolderCa, CaOp::List),
    },
    RouteDef {
        method: "GET",
        pattern: "/v1/holder/certificates/ca/{caId}",
        access: Access::Roles(HOLDER),
        id: RouteId::Ca(Resource::HolderCa, CaOp::Get),
    },
    RouteDef {
        method: "PUT",
        pattern: "/v1/holder/certificates/ca/{caId}",
        access: Access::Roles(HOLDER),
        id: RouteId::Ca(Resource::HolderCa, CaOp::Update),
    },
    RouteDef {
        method: "DELETE",
        pattern: "/v1/holder/certificates/ca/{caId}",
        access: Access::Roles(HOLDER),
        id: RouteId::Ca(Resource::HolderCa, CaOp::Delete),
    },
    RouteDef {
        method: "POST",
        pattern: "/v1/holder/certificates/wallet-attestation-signers",
        access: Access::Roles(HOLDER),
        id: RouteId::Ca(Resource::WalletSigner, CaOp::Create),
    },
    RouteDef {
        method: "GET",
        pattern: "/v1/holder/certificates/wallet-attestation-signers",
        access: Access::Roles(HOLDER),
        id: RouteId::Ca(Resource::WalletSigner, CaOp::List),
    },
    RouteDef {
        method: "GET",
        pattern: "/v1/holder/certificates/wallet-attestation-signers/{certificateId}",
        access: Access::Roles(HOLDER),
        id: RouteId::Ca(Resource::WalletSigner, CaOp::Get),
    },
    RouteDef {
        method: "PUT",
        pattern: "/v1/holder/certificates/wallet-attestation-signers/{certificateId}",
        access: Access::Roles(HOLDER),
        id: RouteId::Ca(Resource::WalletSigner, CaOp::Update),
    },
    RouteDef {
        method: "DELETE",
        pattern: "/v1/holder/certificates/wallet-attestation-signers/{certificateId}",
        access: Access::Roles(HOLDER),
        id: RouteId::Ca(Resource::WalletSigner, CaOp::Delete),
    },
    RouteDef {
        method: "GET",
        pattern: "/v1/holder/certificates/ca/{caId}/crl",
        access: Access::Roles(HOLDER),
        id: RouteId::HolderCaCrl,
    },
    RouteDef {
        method: "POST",
        pattern: "/v2/credentials/mobile/iacas",
        access: Access::Roles(MOBILE),
        id: RouteId::Ca(Resource::Iaca, CaOp::Create),
    },
    RouteDef {
        method: "GET",
        pattern: "/v2/credentials/mobile/iacas",
        access: Access::Roles(MOBILE),
        id: RouteId::Ca(Resource::Iaca, CaOp::List),
    },
    RouteDef {
        method: "GET",
        pattern: "/v2/credentials/mobile/iacas/{iacaId}",
        access: Access::Roles(MOBILE),
        id: RouteId::Ca(Resource::Iaca, CaOp::Get),
    },
    RouteDef {
        method: "PUT",
        pattern: "/v2/credentials/mobile/iacas/{iacaId}",
        access: Access::Roles(MOBILE),
        id: RouteId::Ca(Resource::Iaca, CaOp::Update),
    },
    RouteDef {
        method: "DELETE",
        pattern: "/v2/credentials/mobile/iacas/{iacaId}",
        access: Access::Roles(MOBILE),
        id: RouteId::Ca(Resource::Iaca, CaOp::Delete),
    },
    RouteDef {
        method: "POST",
        pattern: "/v2/credentials/mobile/document-signers",
        access: Access::Roles(MOBILE),
        id: RouteId::Ca(Resource::DocumentSigner, CaOp::Create),
    },
    RouteDef {
        method: "GET",
        pattern: "/v2/credentials/mobile/document-signers",
        access: Access::Roles(MOBILE),
        id: RouteId::Ca(Resource::DocumentSigner, CaOp::List),
    },
    RouteDef {
        method: "GET",
        pattern: "/v2/credentials/mobile/document-signers/{documentSignerId}",
        access: Access::Roles(MOBILE),
        id: RouteId::Ca(Resource::DocumentSigner, CaOp::Get),
    },
    RouteDef {
        method: "PUT",
        pattern: "/v2/credentials/mobile/document-signers/{documentSignerId}",
        access: Access::Roles(MOBILE),
        id: RouteId::Ca(Resource::DocumentSigner, CaOp::Update),
    },
    RouteDef {
        method: "DELETE",
        pattern: "/v2/credentials/mobile/document-signers/{documentSignerId}",
        access: Access::Roles(MOBILE),
        id: RouteId::Ca(Resource::DocumentSigner, CaOp::Delete),
    },
    RouteDef {
        method: "POST",
        pattern: "/v2/credentials/mobile/status-list-signers",
        access: Access::Roles(MOBILE),
        id: RouteId::Ca(Resource::StatusListSigner, CaOp::Create),
    },
    RouteDef {
        method: "GET",
        pattern: "/v2/credentials/mobile/status-list-signers",
        access: Access::Roles(MOBILE),
        id: RouteId::Ca(Resource::StatusListSigner, CaOp::List),
    },
    RouteDef {
        method: "GET",
        pattern: "/v2/credentials/mobile/status-list-signers/{statusListSignerId}",
        access: Access::Roles(MOBILE),
        id: RouteId::Ca(Resource::StatusListSigner, CaOp::Get),
    },
    RouteDef {
        method: "PUT",
        pattern: "/v2/credentials/mobile/status-list-signers/{statusListSignerId}",
        access: Access::Roles(MOBILE),
        id: RouteId::Ca(Resource::StatusListSigner, CaOp::Update),
    },
    RouteDef {
        method: "DELETE",
        pattern: "/v2/credentials/mobile/status-list-signers/{statusListSignerId}",
        access: Access::Roles(MOBILE),
        id: RouteId::Ca(Resource::StatusListSigner, CaOp::Delete),
    },
    RouteDef {
        method: "POST",
        pattern: "/v2/credentials/mobile/mdocs/{credentialId}/revoke",
        access: Access::Roles(MOBILE),
        id: RouteId::MobileRevoke,
    },
    RouteDef {
        method: "GET",
        pattern: "/v2/credentials/mobile/status-lists/distribution",
        access: Access::Public,
        id: RouteId::StatusListDistribution,
    },
    RouteDef {
        method: "GET",
        pattern: "/v2/credentials/mobile/status-lists/{statusListId}/token",
        access: Access::Public,
        id: RouteId::StatusListToken,
    },
    RouteDef {
        method: "POST",
        pattern: "/v2/credentials/mobile/sign",
        access: Access::Roles(MOBILE),
        id: RouteId::MobileSign,
    },
    RouteDef {
        method: "POST",
        pattern: "/v2/credentials/mobile/sign-mso",
        access: Access::Roles(MOBILE),
        id: RouteId::MobileSignMso,
    },
    RouteDef {
        method: "POST",
        pattern: "/v1/ecosystems",
        access: Access::Roles(DTS),
        id: RouteId::Dts(DtsOp::EcosystemCreate),
    },
    RouteDef {
        method: "GET",
        pattern: "/v1/ecosystems",
        access: Access::Roles(DTS),
        id: RouteId::Dts(DtsOp::EcosystemList),
    },
    RouteDef {
        method: "GET",
        pattern: "/v1/ecosystems/{ecosystemId}",
        access: Access::Roles(DTS),
        id: RouteId::Dts(DtsOp::EcosystemGet),
    },
    RouteDef {
        method: "DELETE",
        pattern: "/v1/ecosystems/{ecosystemId}",
        access: Access::Roles(DTS),
        id: RouteId::Dts(DtsOp::EcosystemDelete),
    },
    RouteDef {
        method: "POST",
        pattern: "/v1/ecosystems/{ecosystemId}/participants",
        access: Access::Roles(DTS),
        id: RouteId::Dts(DtsOp::ParticipantCreate),
    },
    RouteDef {
        method: "GET",
        pattern: "/v1/ecosystems/{ecosystemId}/participants",
        access: Access::Roles(DTS),
        id: RouteId::Dts(DtsOp::ParticipantList),
    },
    RouteDef {
        method: "GET",
        pattern: "/v1/ecosystems/{ecosystemId}/participants/{participantId}",
        access: Access::Roles(DTS),
        id: RouteId::Dts(DtsOp::ParticipantGet),
    },
    RouteDef {
        method: "PUT",
        pattern: "/v1/ecosystems/{ecosystemId}/participants/{participantId}",
        access: Access::Roles(DTS),
        id: RouteId::Dts(DtsOp::ParticipantUpdate),
    },
    RouteDef {
        method: "DELETE",
        pattern: "/v1/ecosystems/{ecosystemId}/participants/{participantId}",
        access: Access::Roles(DTS),
        id: RouteId::Dts(DtsOp::ParticipantDelete),
    },
    RouteDef {
        method: "PUT",
        pattern: "/v1/ecosystems/{ecosystemId}/vicals/configuration",
        access: Access::Roles(DTS),
        id: RouteId::Dts(DtsOp::ConfigPut),
    },
    RouteDef {
        method: "GET",
        pattern: "/v1/ecosystems/{ecosystemId}/vicals/configuration",
        access: Access::Roles(DTS),
        id: RouteId::Dts(DtsOp::ConfigGet),
    },
    RouteDef {
        method: "DELETE",
        pattern: "/v1/ecosystems/{ecosystemId}/vicals/configuration",
        access: Access::Roles(DTS),
        id: RouteId::Dts(DtsOp::ConfigDelete),
    },
    RouteDef {
        method: "POST",
        pattern: "/v1/ecosystems/{ecosystemId}/vicals",
        access: Access::Roles(DTS),
        id: RouteId::Dts(DtsOp::Publish),
    },
    RouteDef {
        method: "GET",
        pattern: "/v1/ecosystems/{ecosystemId}/vicals/public",
        access: Access::Public,
        id: RouteId::Dts(DtsOp::PublicList),
    },
    RouteDef {
        method: "GET",
        pattern: "/v1/ecosystems/{ecosystemId}/vicals/public/latest",
        access: Access::Public,
        id: RouteId::Dts(DtsOp::PublicLatest),
    },
    RouteDef {
        method: "GET",
        pattern: "/v1/ecosystems/{ecosystemId}/vicals/public/{vicalIssueId}",
        access: Access::Public,
        id: RouteId::Dts(DtsOp::PublicGet),
    },
    RouteDef {
        method: "POST",
        pattern: "/v1/holder/wallet-attestations",
        access: Access::Roles(HOLDER),
        id: RouteId::WalletAttestation,
    },
    RouteDef {
        method: "GET",
        pattern: "/crl/{caId}.crl",
        access: Access::Public,
        id: RouteId::PublicCrl,
    },
    RouteDef {
        method: "POST",
        pattern: "/v2/credentials/mobile/document-signers/{documentSignerId}/revoke",
        access: Access::Roles(MOBILE),
        id: RouteId::Ca(Resource::DocumentSigner, CaOp::Revoke),
    },
    RouteDef {
        method: "POST",
        pattern: "/v2/credentials/mobile/status-list-signers/{statusListSignerId}/revoke",
        access: Access::Roles(MOBILE),
        id: RouteId::Ca(Resource::StatusListSigner, CaOp::Revoke),
    },
    RouteDef {
        method: "POST",
        pattern: "/v1/ecosystems/certificates/vical-signers/{vicalSignerId}/revoke",
        access: Access::Roles(DTS),
        id: RouteId::Ca(Resource::VicalSigner, CaOp::Revoke),
    },
    RouteDef {
        method: "POST",
        pattern: "/v1/holder/certificates/wallet-attestation-signers/{certificateId}/revoke",
        access: Access::Roles(HOLDER),
        id: RouteId::Ca(Resource::WalletSigner, CaOp::Revoke),
    },
    RouteDef {
        method: "POST",
        pattern: "/v1/{target}/x509-service-api/certificates/{serial}/revoke",
        access: Access::Roles(X509),
        id: RouteId::X509CertificateRevoke,
    },
    console("GET", "/console", Page::Home),
    console("GET", "/console/sign-in", Page::SignIn),
    console("POST", "/console/sign-in", Page::SignInSubmit),
    console("POST", "/console/sign-out", Page::SignOut),
    console("GET", "/console/assets/{file}", Page::Asset),
    console("GET", "/console/ca/{resource}", Page::CaList),
    console("POST", "/console/ca/{resource}", Page::CaCreate),
    console("GET", "/console/ca/{resource}/{id}", Page::CaDetail),
    console("POST", "/console/ca/{resource}/{id}", Page::CaAction),
    console(
        "GET",
        "/console/ca/{resource}/{id}/{file}",
        Page::CaDownload,
    ),
    console("GET", "/console/audit", Page::Audit),
    console("GET", "/console/keys", Page::Keys),
    console("POST", "/console/keys", Page::KeysCreate),
    console("GET", "/console/jobs/{id}", Page::Job),
    console("GET", "/console/issue/{kind}", Page::Issue),
    console("POST", "/console/issue/{kind}", Page::IssueSubmit),
    console("GET", "/console/certificates", Page::Certificates),
    console(
        "GET",
        "/console/certificates/{id}/{file}",
        Page::CertificateDownload,
    ),
    console(
        "POST",
        "/console/certificates/{id}",
        Page::CertificateAction,
    ),
    console("GET", "/console/vicals", Page::Vicals),
    console("POST", "/console/vicals", Page::VicalsCreate),
    console("GET", "/console/vicals/{ecosystemId}", Page::Vical),
    console("POST", "/console/vicals/{ecosystemId}", Page::VicalAction),
    console(
        "GET",
        "/console/vicals/{ecosystemId}/{file}",
        Page::VicalDownload,
    ),
    console("GET", "/console/crls", Page::Crls),
];

use super::console::Page;

const fn console(method: &'static str, pattern: &'static str, page: Page) -> RouteDef {
    RouteDef {
        method,
        pattern,
        access: Access::Console,
        id: RouteId::Console(page),
    }
}

/// The roles of the API route `id`: what the console checks before it performs that
/// route's operation for a session. Routes without roles (public, console) admit none.
pub fn roles_of(id: RouteId) -> &'static [Role] {
    ROUTES
        .iter()
        .find(|r| r.id == id)
        .map(|r| match r.access {
            Access::Roles(roles) => roles,
            Access::Public | Access::Console => &[],
        })
        .unwrap_or(&[])
}

/// Longest path we try to match; anything longer is a 404 without further work.
const MAX_PATH: usize = 2048;

/// Outcome of matching a request line against the table.
pub enum Match<'p> {
    Found(&'static RouteDef, Vec<&'p str>),
    /// The path exists, the method does not; the allowed methods, for the `Allow` header.
    MethodNotAllowed(Vec<&'static str>),
    NotFound,
}

fn match_pattern<'p>(pattern: &str, path: &'p str) -> Option<Vec<&'p str>> {
    let mut params = Vec::new();
    let mut pat = pattern.trim_start_matches('/').split('/');
    // Exactly one leading slash: `//v1/keys` is no alias of `/v1/keys` (found by
    // tests/hostile.rs; a proxy that guards paths by prefix would not see it as one).
    let mut segs = path.strip_prefix('/')?.split('/');
    loop {
        match (pat.next(), segs.next()) {
            (None, None) => return Some(params),
            (Some(p), Some(s)) if p.starts_with('{') => {
                if s.is_empty() {
                    return None;
                }
                params.push(s);
            }
            (Some(p), Some(s)) if p == s => {}
            _ => return None,
        }
    }
}

pub fn find<'p>(method: &str, path: &'p str) -> Match<'p> {
    if path.len() > MAX_PATH {
        return Match::NotFound;
    }
    let mut allowed = Vec::new();
    for r in ROUTES {
        if let Some(params) = match_pattern(r.pattern, path) {
            if r.method == method {
                return Match::Found(r, params);
            }
            allowed.push(r.method);
        }
    }
    if allowed.is_empty() {
        Match::NotFound
    } else {
        Match::MethodNotAllowed(allowed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching() {
        assert!(
            matches!(find("GET", "/v1/keys/abc"), Match::Found(r, p) if r.id == RouteId::KeyGet && p == ["abc"])
        );
        assert!(
            matches!(find("PUT", "/v1/keys/abc"), Match::MethodNotAllowed(m) if m == ["GET", "DELETE"])
        );
        assert!(matches!(find("GET", "/v1/keys/"), Match::NotFound));
        assert!(matches!(find("GET", "/v1/keys/a/b"), Match::NotFound));
        assert!(matches!(find("GET", "/nope"), Match::NotFound));
        assert!(matches!(find("GET", "//v1/keys/abc"), Match::NotFound));
        assert!(matches!(find("DELETE", "///v1/keys/abc"), Match::NotFound));
        assert!(matches!(find("GET", "v1/keys/abc"), Match::NotFound));
    }

    #[test]
    fn every_route_is_unique() {
        for (i, a) in ROUTES.iter().enumerate() {
            for b in &ROUTES[i + 1..] {
                assert!(!(a.method == b.method && a.pattern == b.pattern), "{a:?}");
            }
        }
    }
}

#[cfg(test)]
mod openapi_tests {
    use super::*;

    /// The OpenAPI document and the route table describe the same (method, path) set.
    /// The `Error` schema lists exactly the codes of `ErrorCode`, so a client generated from
    /// the document knows every code the daemon can send.
    #[test]
    fn openapi_error_codes_are_the_error_code_table() {
        let doc: serde_json::Value = serde_json::from_str(crate::http::openapi()).unwrap();
        let listed: Vec<&str> = doc["components"]["schemas"]["Error"]["properties"]["code"]["enum"]
            .as_array()
            .expect("Error.code has an enum")
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let table: Vec<&str> = crate::api::ErrorCode::ALL
            .iter()
            .map(|c| c.as_str())
            .collect();
        assert_eq!(listed, table);
    }

    #[test]
    fn openapi_document_matches_the_route_table() {
        let doc: serde_json::Value = serde_json::from_str(crate::http::openapi()).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        let mut documented = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, _) in item.as_object().unwrap() {
                documented.push((method.to_uppercase(), path.clone()));
            }
        }
        // The console's HTML routes are not part of the JSON API the document describes.
        let mut served: Vec<(String, String)> = ROUTES
            .iter()
            .filter(|r| r.access != Access::Console)
            .map(|r| (r.method.to_owned(), r.pattern.to_owned()))
            .collect();
        documented.sort();
        served.sort();
        assert_eq!(documented, served);
        // Every protected route says it needs a bearer token, every public one that it
        // does not.
        for r in ROUTES.iter().filter(|r| r.access != Access::Console) {
            let op = &doc["paths"][r.pattern][r.method.to_lowercase()];
            let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
            assert_eq!(
                secured,
                r.access != Access::Public,
                "{} {}",
                r.method,
                r.pattern
            );
        }
    }

    /// Every console route is under `/console`, and none is in the OpenAPI document: the
    /// document is the JSON API's contract, the console its HTML client.
    #[test]
    fn console_routes_are_not_in_the_openapi_document() {
        let doc: serde_json::Value = serde_json::from_str(crate::http::openapi()).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        for r in ROUTES {
            let is_console = matches!(r.id, RouteId::Console(_));
            assert_eq!(r.access == Access::Console, is_console, "{}", r.pattern);
            assert_eq!(
                r.pattern.starts_with("/console"),
                is_console,
                "{}",
                r.pattern
            );
            if is_console {
                assert!(!paths.contains_key(r.pattern), "{}", r.pattern);
            }
        }
        assert!(!paths.keys().any(|p| p.starts_with("/console")));
    }

    /// The routes that take a query string are exactly those whose OpenAPI operation
    /// declares query parameters.
    #[test]
    fn query_strings_only_where_documented() {
        let doc: serde_json::Value = serde_json::from_str(crate::http::openapi()).unwrap();
        for r in ROUTES
            .iter()
            .filter(|r| !matches!(r.access, Access::Public | Access::Console))
        {
            let op = &doc["paths"][r.pattern][r.method.to_lowercase()];
            let documented = op["parameters"]
                .as_array()
                .is_some_and(|ps| ps.iter().any(|p| p["in"] == "query"));
            assert_eq!(documented, r.id.takes_query(), "{} {}", r.method, r.pattern);
        }
    }
}

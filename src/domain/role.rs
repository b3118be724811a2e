//! The roles a token can carry (DESIGN §4).

use super::labels::label_enum;

label_enum!(
    /// What a token's holder may do (DESIGN §4).
    Role {
        /// Manages funds, recipients and programmes; reads everything.
        Admin => "admin",
        /// Records awards, variations and payments; reviews returns; reads everything.
        Finance => "finance",
        /// Approves awards and variations, never their own; reads everything.
        Approver => "approver",
        /// A funded organisation's officer (a CSP, a council, a charity): their own recipient's
        /// data only. Tokens may still say `csp`, the name this role had first.
        Recipient => "recipient",
        /// Reads everything, including the audit trail; writes nothing.
        Auditor => "auditor",
    }
);

impl Role {
    /// Reads a role as a token or the command line names it: the label, or `csp`, the first
    /// name of [`Role::Recipient`].
    pub fn from_claim(name: &str) -> Option<Role> {
        match name {
            "csp" => Some(Role::Recipient),
            other => Role::parse(other),
        }
    }
}

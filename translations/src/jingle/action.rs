//! XEP-0166 enumerated attribute values: action, creator, senders.

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $var:ident = $s:literal,)* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vm])* $var,)* }

        impl $name {
            /// The XML spelling.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$var => $s,)* }
            }
        }

        impl std::str::FromStr for $name {
            type Err = ();
            fn from_str(s: &str) -> Result<Self, ()> {
                match s { $($s => Ok($name::$var),)* _ => Err(()) }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use string_enum;

string_enum! {
    /// XEP-0166 §7.2 actions.
    Action {
        /// content-accept
        ContentAccept = "content-accept",
        /// content-add
        ContentAdd = "content-add",
        /// content-modify
        ContentModify = "content-modify",
        /// content-reject
        ContentReject = "content-reject",
        /// content-remove
        ContentRemove = "content-remove",
        /// description-info
        DescriptionInfo = "description-info",
        /// security-info
        SecurityInfo = "security-info",
        /// session-accept
        SessionAccept = "session-accept",
        /// session-info
        SessionInfo = "session-info",
        /// session-initiate
        SessionInitiate = "session-initiate",
        /// session-terminate
        SessionTerminate = "session-terminate",
        /// transport-accept
        TransportAccept = "transport-accept",
        /// transport-info
        TransportInfo = "transport-info",
        /// transport-reject
        TransportReject = "transport-reject",
        /// transport-replace
        TransportReplace = "transport-replace",
    }
}

string_enum! {
    /// Which party created a content (XEP-0166 content/@creator, also session-info @creator).
    Creator {
        /// initiator
        Initiator = "initiator",
        /// responder
        Responder = "responder",
    }
}

string_enum! {
    /// Who sends media (XEP-0166 content/@senders, XEP-0294 rtp-hdrext/@senders).
    Senders {
        /// both (the default)
        Both = "both",
        /// initiator only
        Initiator = "initiator",
        /// responder only
        Responder = "responder",
        /// nobody
        None = "none",
    }
}

//! WebSocket close codes and what a client does after each.

/// Why the server closed a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::IntoStaticStr, strum::EnumIter)]
#[strum(serialize_all = "snake_case")]
pub enum CloseCode {
    /// 1000: normal closure.
    Normal,
    /// 1001: the server is going away (shutdown or deploy).
    GoingAway,
    /// 1009: an inbound frame was larger than 64 KiB.
    TooLarge,
    /// 4400: the client broke the protocol.
    ProtocolViolation,
    /// 4401: not authenticated, or the session expired.
    NotAuthenticated,
    /// 4403: the origin or the access was refused.
    Forbidden,
    /// 4408: nothing heard within the heartbeat window.
    HeartbeatTimeout,
    /// 4409: the client read too slowly and its queue filled up.
    SlowConsumer,
    /// 4429: too many connections for this user.
    TooManyConnections,
}

/// What a client does after a close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reconnect {
    /// Reconnect with the usual jittered backoff (and recover by `seq`).
    Backoff,
    /// Reconnect, but wait longer first.
    LongBackoff,
    /// Do not reconnect: sign-in is needed.
    SignIn,
    /// Do not reconnect: access is refused.
    Stop,
}

impl CloseCode {
    /// The numeric code on the wire.
    pub fn code(self) -> u16 {
        match self {
            Self::Normal => 1000,
            Self::GoingAway => 1001,
            Self::TooLarge => 1009,
            Self::ProtocolViolation => 4400,
            Self::NotAuthenticated => 4401,
            Self::Forbidden => 4403,
            Self::HeartbeatTimeout => 4408,
            Self::SlowConsumer => 4409,
            Self::TooManyConnections => 4429,
        }
    }

    /// The close code with this number, if it is one of ours.
    pub fn from_code(code: u16) -> Option<Self> {
        <Self as strum::IntoEnumIterator>::iter().find(|close| close.code() == code)
    }

    /// A short snake_case name, for logs and metrics labels.
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// What a client does after this close.
    pub fn reconnect(self) -> Reconnect {
        match self {
            Self::NotAuthenticated => Reconnect::SignIn,
            Self::Forbidden => Reconnect::Stop,
            Self::TooManyConnections => Reconnect::LongBackoff,
            _ => Reconnect::Backoff,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_tell_the_client_what_to_do() {
        for (code, close) in [(4409, CloseCode::SlowConsumer), (1009, CloseCode::TooLarge)] {
            assert_eq!(CloseCode::from_code(code), Some(close));
            assert_eq!(close.code(), code);
        }
        assert_eq!(CloseCode::from_code(1006), None);
        assert_eq!(CloseCode::NotAuthenticated.reconnect(), Reconnect::SignIn);
        assert_eq!(CloseCode::Forbidden.reconnect(), Reconnect::Stop);
        assert_eq!(CloseCode::SlowConsumer.reconnect(), Reconnect::Backoff);
        assert_eq!(CloseCode::SlowConsumer.name(), "slow_consumer");
    }
}

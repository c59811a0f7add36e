//! The real-time hub's Prometheus metrics.

use prometheus::{IntCounter, IntCounterVec, IntGauge, Opts, Registry};

/// Counters and gauges of connections, subscriptions and frames.
#[derive(Debug, Clone)]
pub struct RealtimeMetrics {
    /// Open WebSocket connections.
    pub connections: IntGauge,
    /// Topic subscriptions across all connections.
    pub subscriptions: IntGauge,
    /// Connections opened since start.
    pub connections_opened: IntCounter,
    /// Connections closed, by close code name.
    pub connections_closed: IntCounterVec,
    /// Frames written to sockets.
    pub frames_sent: IntCounter,
    /// Bytes of frames written to sockets.
    pub bytes_sent: IntCounter,
    /// Events published.
    pub publishes: IntCounter,
    /// Subscriptions that asked to recover, by outcome (`recovered` / `lost`).
    pub recoveries: IntCounterVec,
    /// Connections closed because their queue overflowed.
    pub slow_consumer_closes: IntCounter,
    /// Frames waiting in connection queues (updated when metrics are read).
    pub queue_depth: IntGauge,
    /// Bytes of events kept in topic histories.
    pub history_bytes: IntGauge,
    /// Events kept in topic histories.
    pub history_events: IntGauge,
}

impl RealtimeMetrics {
    /// Creates the metrics and registers them in `registry`.
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let metrics = Self {
            connections: IntGauge::new("hatchery_ws_connections", "Open WebSocket connections")?,
            subscriptions: IntGauge::new(
                "hatchery_ws_subscriptions",
                "Topic subscriptions across all connections",
            )?,
            connections_opened: IntCounter::new(
                "hatchery_ws_connections_opened_total",
                "WebSocket connections opened",
            )?,
            connections_closed: IntCounterVec::new(
                Opts::new(
                    "hatchery_ws_connections_closed_total",
                    "WebSocket connections closed, by close code",
                ),
                &["code"],
            )?,
            frames_sent: IntCounter::new("hatchery_ws_frames_sent_total", "Frames written")?,
            bytes_sent: IntCounter::new(
                "hatchery_ws_bytes_sent_total",
                "Bytes written to sockets, frame headers included",
            )?,
            publishes: IntCounter::new("hatchery_realtime_publishes_total", "Events published")?,
            recoveries: IntCounterVec::new(
                Opts::new(
                    "hatchery_ws_recoveries_total",
                    "Subscriptions that asked to recover missed events, by outcome",
                ),
                &["outcome"],
            )?,
            slow_consumer_closes: IntCounter::new(
                "hatchery_ws_slow_consumer_closes_total",
                "Connections closed because they read too slowly",
            )?,
            queue_depth: IntGauge::new(
                "hatchery_ws_queue_depth",
                "Frames waiting in connection queues",
            )?,
            history_bytes: IntGauge::new(
                "hatchery_realtime_history_bytes",
                "Bytes of events kept in topic histories for recovery",
            )?,
            history_events: IntGauge::new(
                "hatchery_realtime_history_events",
                "Events kept in topic histories for recovery",
            )?,
        };
        registry.register(Box::new(metrics.connections.clone()))?;
        registry.register(Box::new(metrics.subscriptions.clone()))?;
        registry.register(Box::new(metrics.connections_opened.clone()))?;
        registry.register(Box::new(metrics.connections_closed.clone()))?;
        registry.register(Box::new(metrics.frames_sent.clone()))?;
        registry.register(Box::new(metrics.bytes_sent.clone()))?;
        registry.register(Box::new(metrics.publishes.clone()))?;
        registry.register(Box::new(metrics.recoveries.clone()))?;
        registry.register(Box::new(metrics.slow_consumer_closes.clone()))?;
        registry.register(Box::new(metrics.queue_depth.clone()))?;
        registry.register(Box::new(metrics.history_bytes.clone()))?;
        registry.register(Box::new(metrics.history_events.clone()))?;
        Ok(metrics)
    }
}

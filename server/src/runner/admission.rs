//! Whether a run may start now, with the runs already in flight counted: at most
//! `max_runs_per_user` of one user's runs queued or running at once (so one user cannot take
//! every slot), and the daily cost caps kept however many runs start at once, each run in
//! flight counting as its estimated cost until its real cost is stored.
//!
//! An admitted run holds a [`Ticket`] until it has ended and its cost is recorded; dropping
//! the ticket gives its place back.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use super::{Price, StartError, caps::CostCaps};
use crate::store::{AgentRow, Store};

/// Limits on runs in flight, and prices to estimate them.
#[derive(Debug, Clone, PartialEq)]
pub struct AdmissionConfig {
    /// Runs of one user queued or running at once (`HATCHERY_MAX_RUNS_PER_USER`, default 8).
    pub max_runs_per_user: usize,
    /// What a run in flight counts against the caps until its cost is known, in millionths
    /// of a dollar (`HATCHERY_RUN_COST_ESTIMATE_USD`, default $0.01).
    pub run_estimate_micros: u64,
}

impl Default for AdmissionConfig {
    fn default() -> Self {
        Self {
            max_runs_per_user: 8,
            run_estimate_micros: 10_000,
        }
    }
}

/// The runs in flight, per user and per agent.
#[derive(Debug, Default)]
pub struct Admission {
    /// Held while one admission reads today's spending and reserves its estimate, so that
    /// two admissions cannot both fit in what is left of a cap.
    gate: tokio::sync::Mutex<()>,
    flights: Mutex<Flights>,
}

#[derive(Debug, Default)]
struct Flights {
    users: HashMap<String, Flight>,
    agents: HashMap<String, Flight>,
}

/// Runs in flight of one user or agent, and what they count against the caps.
#[derive(Debug, Default, Clone, Copy)]
struct Flight {
    runs: usize,
    reserved: u64,
}

/// A run's place among the runs in flight, given back when dropped.
#[derive(Debug)]
pub struct Ticket {
    admission: Arc<Admission>,
    user: String,
    agent: String,
    reserved: u64,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut flights = self.admission.lock();
        let Flights { users, agents } = &mut *flights;
        for (map, key) in [(users, &self.user), (agents, &self.agent)] {
            if let Some(flight) = map.get_mut(key) {
                flight.runs -= 1;
                flight.reserved -= self.reserved;
                if flight.runs == 0 {
                    map.remove(key);
                }
            }
        }
    }
}

/// What a run is checked against.
pub struct Limits<'a> {
    /// Runs in flight and estimates.
    pub config: &'a AdmissionConfig,
    /// The daily caps.
    pub caps: &'a CostCaps,
    /// The price of the run's model, if known.
    pub price: Option<&'a Price>,
}

impl Admission {
    fn lock(&self) -> MutexGuard<'_, Flights> {
        self.flights.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Admits a run of `agent`, or says why not.
    pub async fn admit(
        self: &Arc<Self>,
        store: &Store,
        agent: &AgentRow,
        limits: Limits<'_>,
    ) -> Result<Ticket, StartError> {
        let Limits {
            config,
            caps,
            price,
        } = limits;
        let capped = caps.per_user.is_some() || caps.per_agent.is_some();
        if capped && price.is_none() {
            return Err(StartError::Unpriced(agent.change.model.clone()));
        }
        // Without caps nothing is read, so nothing needs to wait.
        let _gate = if capped {
            Some(self.gate.lock().await)
        } else {
            None
        };
        let reserved = if capped {
            config.run_estimate_micros
        } else {
            0
        };
        if capped {
            let (user, agent_flight) = {
                let flights = self.lock();
                (
                    flights
                        .users
                        .get(&agent.owner_id)
                        .copied()
                        .unwrap_or_default(),
                    flights.agents.get(&agent.id).copied().unwrap_or_default(),
                )
            };
            let in_flight = (user.reserved + reserved, agent_flight.reserved + reserved);
            if let Some(reason) = caps
                .reached(store, &agent.owner_id, &agent.id, in_flight)
                .await?
            {
                return Err(StartError::CapReached(reason));
            }
        }
        let mut flights = self.lock();
        let user = flights.users.entry(agent.owner_id.clone()).or_default();
        if user.runs >= config.max_runs_per_user {
            return Err(StartError::TooManyInFlight(config.max_runs_per_user));
        }
        user.runs += 1;
        user.reserved += reserved;
        let flight = flights.agents.entry(agent.id.clone()).or_default();
        flight.runs += 1;
        flight.reserved += reserved;
        Ok(Ticket {
            admission: self.clone(),
            user: agent.owner_id.clone(),
            agent: agent.id.clone(),
            reserved,
        })
    }
}

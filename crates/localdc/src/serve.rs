//! Serving a world: the one way to start a server for a [`World`] (the `localdc` binary,
//! `tgdl demo`, the benchmark and the chaos suite all do it). The default methods plus the
//! world's, the world's logins as the WAN emulation's accounts (connections of one user
//! share that user's bandwidth), logins dropped with forgotten keys, and the logins of the
//! state dir when there is one.
//!
//! ```no_run
//! # async fn demo(world: std::sync::Arc<localdc::world::World>) -> Result<(), localdc::Error> {
//! let server = localdc::serve(localdc::Config::default()).world(&world).start().await?;
//! server.shutdown().await;
//! # Ok(()) }
//! ```

use std::sync::Arc;

use crate::config::Config;
use crate::error::Error;
use crate::rpc::{CallCounts, Registry};
use crate::server::{RunningServer, Server};
use crate::world::World;

/// What to serve; [`Serve::start`] starts it.
#[derive(Debug, Clone)]
#[must_use = "nothing is served until `start` is called"]
pub struct Serve {
    config: Config,
    world: Option<Arc<World>>,
    calls: Option<Arc<CallCounts>>,
}

/// A server with `config`, serving the default methods until [`Serve::world`] adds a world.
pub fn serve(config: Config) -> Serve {
    Serve {
        config,
        world: None,
        calls: None,
    }
}

impl Serve {
    /// Serves `world` too.
    pub fn world(mut self, world: &Arc<World>) -> Self {
        self.world = Some(Arc::clone(world));
        self
    }

    /// Serves `world` too, when there is one.
    pub fn maybe_world(mut self, world: Option<&Arc<World>>) -> Self {
        self.world = world.map(Arc::clone);
        self
    }

    /// Counts the requests executed per method into `calls` (shared across restarts).
    pub fn counting_into(mut self, calls: &Arc<CallCounts>) -> Self {
        self.calls = Some(Arc::clone(calls));
        self
    }

    /// The methods served.
    fn registry(&self) -> Registry {
        let mut registry = Registry::with_defaults();
        if let Some(calls) = &self.calls {
            registry = registry.counting_into(Arc::clone(calls));
        }
        if let Some(world) = &self.world {
            crate::world::register(&mut registry, Arc::clone(world));
        }
        registry
    }

    /// Binds every DC's port and starts serving; returns once every listener is up and the
    /// world is attached.
    ///
    /// # Errors
    /// What [`Server::start_with`] refuses, or the state dir's logins failing to load.
    pub async fn start(&self) -> Result<RunningServer, Error> {
        let server = Server::start_with(self.config.clone(), self.registry()).await?;
        if let Some(world) = &self.world {
            server.attach_world(world)?;
            crate::world::use_world_logins(&server, world);
            // The fixture's timeline runs from the first start (a restarted server goes on
            // with the world as it is).
            world.play_timeline();
        }
        Ok(server)
    }

    /// The configuration served.
    pub fn config(&self) -> &Config {
        &self.config
    }
}

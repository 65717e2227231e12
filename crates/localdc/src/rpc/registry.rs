//! The handler registry: API methods by constructor id.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tl_types::{Deserialize, Identifiable, RemoteCall, Serialize};

use super::context::RequestContext;
use super::errors;
use super::mutate::MutatorHook;
use crate::RpcError;

/// What a handler answers: the serialized (boxed) result object, or an `rpc_error`.
pub type RpcResult = Result<Vec<u8>, RpcError>;

/// The future an asynchronous handler returns.
pub type HandlerFuture = Pin<Box<dyn Future<Output = RpcResult> + Send + 'static>>;

/// One API method's implementation. `body` is the request as the client sent it (boxed,
/// constructor id first), with the `invokeWith*` wrappers already taken off.
pub trait Handler: Send + Sync + 'static {
    /// Serves one call.
    fn call(&self, ctx: RequestContext, body: Vec<u8>) -> HandlerFuture;
}

struct AsyncFn<F>(F);

impl<F, Fut> Handler for AsyncFn<F>
where
    F: Fn(RequestContext, Vec<u8>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = RpcResult> + Send + 'static,
{
    fn call(&self, ctx: RequestContext, body: Vec<u8>) -> HandlerFuture {
        Box::pin((self.0)(ctx, body))
    }
}

struct SyncFn<F>(F);

impl<F> Handler for SyncFn<F>
where
    F: Fn(&RequestContext, &[u8]) -> RpcResult + Send + Sync + 'static,
{
    fn call(&self, ctx: RequestContext, body: Vec<u8>) -> HandlerFuture {
        // Sync handlers are quick by contract: run them at once, hand back a ready future.
        let result = (self.0)(&ctx, &body);
        Box::pin(std::future::ready(result))
    }
}

/// API methods by constructor id. Later milestones (the world: users, chats, messages,
/// files) register their methods here; anything not registered is answered with
/// [`errors::method_invalid`] (`400 INPUT_METHOD_INVALID`).
#[derive(Clone, Default)]
pub struct Registry {
    handlers: HashMap<u32, Entry>,
    /// The hostile-server hook, shared by every clone of this registry (so by every DC).
    mutator: Arc<MutatorHook>,
    /// Requests handed to a handler, by method, on every DC (shared like the mutator).
    calls: Arc<CallCounts>,
}

/// How many requests of each method were executed: what tests check to see that no
/// request ran twice.
#[derive(Debug, Default)]
pub struct CallCounts(std::sync::Mutex<HashMap<u32, u64>>);

impl CallCounts {
    /// Executions of the method with constructor `id` so far.
    pub fn of(&self, id: u32) -> u64 {
        let counts = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        counts.get(&id).copied().unwrap_or(0)
    }

    pub(crate) fn count(&self, id: u32) {
        let mut counts = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *counts.entry(id).or_default() += 1;
    }
}

#[derive(Clone)]
struct Entry {
    name: &'static str,
    handler: Arc<dyn Handler>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<_> = self.handlers.values().map(|e| e.name).collect();
        names.sort_unstable();
        f.debug_struct("Registry")
            .field("methods", &names)
            .field("mutator", &self.mutator)
            .field("calls", &self.calls)
            .finish()
    }
}

impl Registry {
    /// A registry with no method at all.
    pub fn empty() -> Self {
        Self::default()
    }

    /// The methods this crate implements before any world exists: `help.getConfig`,
    /// `help.getNearestDc`, `users.getUsers` answering `401 AUTH_KEY_UNREGISTERED`
    /// (nobody is logged in yet, which is what clients check on connect), and the service
    /// function `destroy_auth_key`.
    pub fn with_defaults() -> Self {
        let mut registry = Self::empty();
        super::help::register(&mut registry);
        super::service::register(&mut registry);
        registry
    }

    /// Registers an asynchronous handler for the constructor `id` (replacing any other).
    pub fn register_async<F, Fut>(&mut self, id: u32, name: &'static str, handler: F)
    where
        F: Fn(RequestContext, Vec<u8>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = RpcResult> + Send + 'static,
    {
        self.insert(id, name, Arc::new(AsyncFn(handler)));
    }

    /// Registers a synchronous handler (for quick work: it runs on the connection's task).
    pub fn register_sync<F>(&mut self, id: u32, name: &'static str, handler: F)
    where
        F: Fn(&RequestContext, &[u8]) -> RpcResult + Send + Sync + 'static,
    {
        self.insert(id, name, Arc::new(SyncFn(handler)));
    }

    /// Registers a typed synchronous handler for the function `M`: the body is parsed as
    /// `M` (a parse failure answers `400 INPUT_FETCH_ERROR`) and the result serialized.
    pub fn register_typed<M, F>(&mut self, handler: F)
    where
        M: RemoteCall + Deserialize + Identifiable,
        M::Return: Serialize,
        F: Fn(&RequestContext, M) -> Result<M::Return, RpcError> + Send + Sync + 'static,
    {
        self.register_sync(M::CONSTRUCTOR_ID, M::TL_NAME, move |ctx, body| {
            let request = M::from_bytes(body).map_err(|error| {
                tracing::debug!(method = M::TL_NAME, %error, "malformed request");
                errors::fetch_error()
            })?;
            handler(ctx, request).map(|result| result.to_bytes())
        });
    }

    /// Registers any [`Handler`].
    pub fn insert(&mut self, id: u32, name: &'static str, handler: Arc<dyn Handler>) {
        self.handlers.insert(id, Entry { name, handler });
    }

    /// Removes the handler of `id`; whether there was one.
    pub fn remove(&mut self, id: u32) -> bool {
        self.handlers.remove(&id).is_some()
    }

    /// The handler of `id` and the method's name.
    pub fn get(&self, id: u32) -> Option<(&'static str, Arc<dyn Handler>)> {
        self.handlers
            .get(&id)
            .map(|entry| (entry.name, Arc::clone(&entry.handler)))
    }

    /// The per-method execution counters of every DC served with this registry.
    pub fn calls(&self) -> &Arc<CallCounts> {
        &self.calls
    }

    /// Counts into `calls` (e.g. counters kept across restarts of a server).
    #[must_use]
    pub fn counting_into(mut self, calls: Arc<CallCounts>) -> Self {
        self.calls = calls;
        self
    }

    /// Whether `id` has a handler.
    pub fn contains(&self, id: u32) -> bool {
        self.handlers.contains_key(&id)
    }

    /// How many methods are registered.
    pub fn len(&self) -> usize {
        self.handlers.len()
    }

    /// The hostile-server hook: a [`Mutator`](super::Mutator) armed on it rewrites every
    /// handler's result before it is sent, on every DC served with this registry.
    pub fn mutator(&self) -> &Arc<MutatorHook> {
        &self.mutator
    }

    /// Whether no method is registered.
    pub fn is_empty(&self) -> bool {
        self.handlers.is_empty()
    }
}

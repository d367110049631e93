//! A relying party's back-channel logout endpoint, on 127.0.0.1.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use tokio::sync::mpsc;

/// A relying party's back-channel logout endpoint on 127.0.0.1: every POST is reported
/// as (path, form body); it answers the statuses queued with `fail_next`, then 200.
pub struct Receiver {
    pub base: String,
    pub got: mpsc::UnboundedReceiver<(String, String)>,
    answers: Arc<Mutex<VecDeque<u16>>>,
}

impl Receiver {
    pub async fn start() -> Self {
        let (tx, got) = mpsc::unbounded_channel();
        let answers: Arc<Mutex<VecDeque<u16>>> = Arc::default();
        let queued = answers.clone();
        let router = axum::Router::new().route(
            "/bc/{name}",
            axum::routing::post(move |axum::extract::Path(name): axum::extract::Path<String>, body: String| {
                let status = queued.lock().unwrap().pop_front().unwrap_or(200);
                tx.send((name, body)).unwrap();
                async move { StatusCode::from_u16(status).unwrap() }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/bc", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self { base, got, answers }
    }

    pub fn fail_next(&self, status: u16) {
        self.answers.lock().unwrap().push_back(status);
    }

    /// The next logout token POSTed, and to which path; fails after 15 s.
    pub async fn next(&mut self) -> (String, String) {
        let (name, body) = tokio::time::timeout(Duration::from_secs(15), self.got.recv()).await.expect("a logout token arrives").unwrap();
        let form: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes()).into_owned().collect();
        assert_eq!(form.len(), 1, "{body}");
        assert_eq!(form[0].0, "logout_token");
        (name, form[0].1.clone())
    }

    /// The tokens of the next `n` POSTs, by path.
    pub async fn next_n(&mut self, n: usize) -> BTreeMap<String, String> {
        let mut all = BTreeMap::new();
        for _ in 0..n {
            let (name, token) = self.next().await;
            assert!(all.insert(name, token).is_none(), "one token per client");
        }
        all
    }
}

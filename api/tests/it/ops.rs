//! Health, metrics, OpenAPI and the correlation id.

use std::collections::BTreeSet;

use axum::http::StatusCode;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_is_ok_with_the_cloud_up() {
    let h = Harness::with_cloud(Db::Sqlite, test_config())
        .await
        .unwrap();
    let r = h.send(get("/api/health", None)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let v = r.json();
    assert_eq!(v["status"], "ok");
    assert_eq!(v["database"]["ok"], true);
    assert_eq!(v["queue"]["ok"], true);
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_is_503_when_a_dependency_is_down() {
    let h = Harness::without_cloud(Db::Sqlite).await.unwrap();
    let r = h.send(get("/api/health", None)).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text());
    let v = r.json();
    assert_eq!(v["status"], "unavailable");
    assert_eq!(v["database"]["ok"], true);
    assert_eq!(v["queue"]["ok"], false);
    assert!(v["queue"]["error"].is_string());

    // The database closed: reported too.
    h.store.close().await;
    let r = h.send(get("/api/health", None)).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.json()["database"]["ok"], false);
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_by_route_and_status() {
    let h = Harness::without_cloud(Db::Sqlite).await.unwrap();
    for _ in 0..3 {
        h.send(get("/api/videos", None)).await;
    }
    h.send(get("/api/public/rankings", None)).await;
    h.send(get("/no/such/route", None)).await;
    let r = h.send(get("/metrics", None)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = r.text();
    for line in [
        "flightdeck_api_requests_total{method=\"GET\",route=\"/api/videos\",status=\"401\"} 3",
        "flightdeck_api_requests_total{method=\"GET\",route=\"/api/public/rankings\",status=\"200\"} 1",
        "flightdeck_api_requests_total{method=\"GET\",route=\"unmatched\",status=\"404\"} 1",
        "flightdeck_api_request_duration_seconds_count{route=\"/api/videos\"} 3",
        "flightdeck_api_upload_bytes_total 0",
        "# TYPE flightdeck_api_request_duration_seconds histogram",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn correlation_ids_are_echoed_or_generated() {
    let h = Harness::without_cloud(Db::Sqlite).await.unwrap();
    let mut req = get("/api/public/videos", None);
    req.headers_mut()
        .insert("x-correlation-id", "lb-1234".parse().unwrap());
    let r = h.send(req).await;
    assert_eq!(r.headers["x-correlation-id"], "lb-1234");
    let r = h.send(get("/api/public/videos", None)).await;
    let generated = r.headers["x-correlation-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(generated).is_ok(), "{generated}");
    let r = h.send(get("/nowhere", None)).await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    assert!(r.headers.contains_key("x-correlation-id"));
    h.finish().await;
}

/// Errors the framework answers itself are JSON with an `error_code` too: 405 (keeping its
/// `Allow` header) and 404.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_is_json() {
    let h = Harness::without_cloud(Db::Sqlite).await.unwrap();
    for (method, uri, status, code) in [
        (
            "PUT",
            "/api/health",
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            "DELETE",
            "/api/videos",
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            "GET",
            "/api/videos/upload",
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        ("PATCH", "/nowhere", StatusCode::NOT_FOUND, "not_found"),
    ] {
        let req = axum::http::Request::builder()
            .method(method)
            .uri(uri)
            .body(axum::body::Body::empty())
            .unwrap();
        let r = h.send(req).await;
        assert_eq!(
            (r.status, r.code().as_str()),
            (status, code),
            "{method} {uri}"
        );
        assert!(r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json"));
        assert!(!r.json()["message"].as_str().unwrap().is_empty());
        if status == StatusCode::METHOD_NOT_ALLOWED {
            assert!(r.headers.contains_key("allow"), "{method} {uri}");
        }
    }
    h.finish().await;
}

/// The document names exactly the routes the app serves: every documented operation
/// reaches a handler (never the fallback), and the list is the expected one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_matches_the_routes() {
    let h = Harness::without_cloud(Db::Sqlite).await.unwrap();
    let r = h.send(get("/api/openapi.json", None)).await;
    assert_eq!(r.status, StatusCode::OK);
    let doc = r.json();
    assert_eq!(doc["openapi"], "3.0.3");
    let mut operations = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            operations.insert(format!("{} {path}", method.to_uppercase()));
        }
    }
    let expected: BTreeSet<String> = [
        "POST /auth/signup",
        "POST /auth/login",
        "POST /auth/refresh",
        "POST /api/videos/upload",
        "GET /api/videos",
        "GET /api/videos/{id}",
        "DELETE /api/videos/{id}",
        "GET /api/public/videos",
        "POST /api/public/videos/{id}/vote",
        "GET /api/public/rankings",
        "GET /api/health",
        "GET /metrics",
        "GET /api/openapi.json",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(operations, expected);
    for op in &operations {
        let (method, path) = op.split_once(' ').unwrap();
        let uri = path.replace("{id}", &uuid::Uuid::new_v4().to_string());
        let req = axum::http::Request::builder()
            .method(method)
            .uri(&uri)
            .body(axum::body::Body::empty())
            .unwrap();
        let r = h.send(req).await;
        assert_ne!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{op}");
    }
    let metrics = h.send(get("/metrics", None)).await.text();
    assert!(
        !metrics.contains("route=\"unmatched\""),
        "a documented route is not served:\n{metrics}"
    );
    h.finish().await;
}

/// A hung AWS endpoint (accepts connections, never answers): the health check fails within
/// its limit, so the load balancer takes the instance out, and an upload ends with a 503
/// instead of hanging; once the endpoint answers again the same instance is healthy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_endpoint_fails_the_health_check_and_uploads_end_with_503() {
    use local_cloud::testing::{Fault, FaultyEndpoint};
    let h = Harness::with_cloud(Db::Sqlite, test_config())
        .await
        .unwrap();
    h.user("hung@example.com", None).await;
    let proxy = FaultyEndpoint::start(h.cloud().endpoint(), Fault::BlackHole).await;
    let hung = stack::Clients::connect(
        &local_cloud::aws_options(proxy.endpoint(), &h.stack.region),
        &h.stack.region,
    )
    .await
    .with_limits(stack::CallLimits {
        connect: std::time::Duration::from_secs(1),
        attempt: std::time::Duration::from_secs(1),
        operation: std::time::Duration::from_secs(3),
        max_attempts: 2,
    });
    let h = h.rewire(&hung, test_config());
    let never = std::time::Duration::from_secs(60);

    let r = tokio::time::timeout(never, h.send(get("/api/health", None)))
        .await
        .expect("the health check waited without a limit");
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text());
    assert_eq!(r.json()["queue"]["ok"], false);
    assert_eq!(r.json()["database"]["ok"], true);

    let token = h
        .send(login("hung@example.com", "correct horse"))
        .await
        .json()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let data = fake_mp4(4096);
    let r = tokio::time::timeout(
        never,
        h.send(upload_request(
            Some(&token),
            &[("title", None, b"t"), ("video_file", Some("a.mp4"), &data)],
            None,
        )),
    )
    .await
    .expect("the upload waited without a limit");
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, "storage_unavailable"),
        "{}",
        r.text()
    );

    proxy.set(Fault::None);
    let r = h.send(get("/api/health", None)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    h.finish().await;
}

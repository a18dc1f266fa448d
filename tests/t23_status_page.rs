//! The status page at `/ui/` in a real headless Chromium (Debian's, through
//! ChromeDriver) against three servers with ACLs on: the token typed once
//! and kept in the tab's session storage, the leader shown and followed
//! through a leader kill, the killed server failed in gossip, the banner
//! when no leader can be reached, and a screenshot in the test output. Servers bind 127.0.0.196 to 127.0.0.199.

use std::time::{Duration, Instant};

use keel_tests::Agent;
use keel_tests::browser::Browser;
use keel_tests::cluster::Cluster;
use keel_tests::fault::bootstrap;

/// How long the page may take to show a change: it reads every 2 s, and an
/// election after a kill takes a few seconds more.
const SHOWN: Duration = Duration::from_secs(60);

/// The leader's name as the API tells a management token, once one is known.
fn leader_name(agent: &Agent, management: &str) -> Option<String> {
    let reply = agent.try_request(
        "GET",
        "/v1/operator/autopilot/health",
        &[("X-Nomad-Token", management)],
        b"",
        Duration::from_secs(10),
    );
    let health = reply.ok().filter(|reply| reply.status == 200)?.json();
    let servers = health["Servers"].as_array()?;
    servers.iter().find(|server| server["Leader"] == true).and_then(|server| server["Name"].as_str()).map(str::to_owned)
}

fn shown_leader(browser: &Browser, other_than: &str) -> String {
    let script = format!(
        "const e = document.querySelector('[data-role=leader-name]'); \
         return e && e.textContent !== 'none' && e.textContent !== {other_than:?} ? e.textContent : null"
    );
    browser.wait_for("a leader", SHOWN, &script).as_str().expect("text").to_owned()
}

#[test]
fn the_page_follows_the_cluster_through_a_leader_kill() {
    let mut cluster = Cluster::builder(&["127.0.0.196", "127.0.0.197", "127.0.0.198"]).acl_enabled(true).launch();
    let leader = cluster.leader();
    let watched = cluster.followers()[0];
    let management = bootstrap(&cluster);
    let browser = Browser::start();

    let opened = Instant::now();
    browser.open(&format!("{}/", cluster.agent(watched).http));
    let denied = browser.wait_for(
        "that a token is needed",
        SHOWN,
        "const e = document.querySelector('#view-servers .error'); return e && e.textContent",
    );
    assert!(denied.as_str().is_some_and(|text| text.starts_with("403")), "{denied}");
    browser.type_into("#token", &management);
    browser.click("#token-form button[type=submit]");
    let first = shown_leader(&browser, "");
    let first_shown = opened.elapsed();
    assert_eq!(Some(first.clone()), leader_name(cluster.agent(watched), &management));
    let kept = browser.eval(&format!(
        "return sessionStorage.getItem('keel.token') === {management:?} && !location.href.includes({management:?})"
    ));
    assert_eq!(kept, true, "the token is in session storage and not in the address");
    for view in ["members", "plugins", "traffic", "license"] {
        let script =
            format!("const e = document.querySelector('#view-{view}'); return e && !e.querySelector('.error')");
        browser.wait_for(&format!("the {view} view without an error"), SHOWN, &script);
    }
    report_load(&browser, first_shown);

    cluster.kill(leader);
    let next = shown_leader(&browser, &first);
    assert_eq!(Some(next.clone()), leader_name(cluster.agent(watched), &management), "the page shows the new leader");
    let failed = format!("return document.querySelector('[data-member={first:?}][data-status=failed]') !== null");
    browser.wait_for("the killed server as failed in gossip", SHOWN, &failed);
    let screenshot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("status-page.png");
    browser.screenshot(&screenshot);
    eprintln!("status page after the leader kill: {}", screenshot.display());

    let other = cluster.running().into_iter().find(|server| *server != watched).expect("a third server");
    cluster.kill(other);
    let banner = browser.wait_for(
        "the banner that no leader is reachable",
        SHOWN,
        "const b = document.getElementById('banner'); return !b.hidden && b.textContent",
    );
    assert!(banner.as_str().is_some_and(|text| text.contains("leader")), "{banner}");
}

/// Prints what the page weighs and how long it took, from the browser's
/// own timing entries.
fn report_load(browser: &Browser, first_shown: Duration) {
    let timing = browser.eval(
        "const nav = performance.getEntriesByType('navigation')[0]; \
         const files = performance.getEntriesByType('resource').filter(r => r.name.includes('/ui/')); \
         return {load: nav.loadEventEnd, bytes: nav.encodedBodySize + files.reduce((s, r) => s + r.encodedBodySize, 0), \
                 files: files.length + 1}",
    );
    let number = |key: &str| timing[key].as_f64().unwrap_or(f64::NAN);
    eprintln!(
        "status page: {} files, {} bytes, loaded in {:.0} ms; leader shown {:.0} ms after opening (with the token typed)",
        number("files"),
        number("bytes"),
        number("load"),
        first_shown.as_secs_f64() * 1_000.0
    );
}

#[test]
fn the_page_and_its_files_need_no_token_and_carry_a_strict_policy() {
    let config = tempfile::tempdir().expect("config dir");
    let file = config.path().join("acl.hcl");
    std::fs::write(&file, "acl { enabled = true }\n").expect("config");
    let agent = Agent::start_dev("127.0.0.199", &["--config", file.to_str().expect("utf-8")]);
    for path in ["/", "/ui"] {
        let head = format!("GET {path} HTTP/1.1\r\nHost: keel\r\nConnection: close\r\n\r\n");
        let answer = agent.raw_exchange(head.as_bytes(), Duration::from_secs(30)).expect("an answer");
        let answer = String::from_utf8_lossy(&answer).to_lowercase();
        assert!(answer.starts_with("http/1.1 307") && answer.contains("location: /ui/\r\n"), "{path}: {answer}");
    }
    let page = agent.get("/ui/");
    assert_eq!(page.status, 200);
    assert_eq!(page.header("content-type"), Some("text/html; charset=utf-8"));
    let policy = page.header("content-security-policy").expect("a policy").to_owned();
    assert!(policy.starts_with("default-src 'self'") && policy.contains("frame-ancestors 'none'"), "{policy}");
    let text = page.text();
    assert_eq!(text.matches("<script src=\"/ui/views/").count(), 5, "one script per view file: {text}");
    for (path, content_type) in
        [("/ui/app.js", "text/javascript; charset=utf-8"), ("/ui/style.css", "text/css; charset=utf-8")]
    {
        let reply = agent.get(path);
        assert_eq!((reply.status, reply.header("content-type")), (200, Some(content_type)), "{path}");
        assert_eq!(reply.header("x-content-type-options"), Some("nosniff"));
    }
    let missing = agent.get("/ui/views/missing.js");
    assert_eq!((missing.status, missing.text()), (404, "404 page not found".to_owned()));
    let wrong = agent.request("POST", "/ui/", &[], b"");
    assert_eq!(wrong.status, 405, "{}", wrong.text());
    // The data behind the page still needs a token.
    let health = agent.get("/v1/operator/autopilot/health");
    assert_eq!((health.status, health.text()), (403, "Permission denied".to_owned()));
}

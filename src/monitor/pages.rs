//! The HTML pages: the index of endpoints (as the Go server's root page) and the live
//! dashboard, a self-contained page that polls `/varz` and `/shardz` every second.

use super::http::HTML;
use super::{Context, Request, Response};
use crate::info::RIPTIDE_VERSION;

/// The dashboard: one file, no external scripts or styles (nothing outside the server may
/// be reachable from where it is viewed).
const DASHBOARD: &str = include_str!("dashboard.html");

fn html(body: String) -> Response {
    Response {
        status: 200,
        content_type: HTML,
        body: body.into_bytes(),
        location: None,
    }
}

pub(super) fn index(_: &Context, _: &Request) -> Response {
    let links = [
        ("varz", "General"),
        ("jsz", "JetStream"),
        ("connz", "Connections"),
        ("accountz", "Accounts"),
        ("accstatz", "Account Stats"),
        ("subsz", "Subscriptions"),
        ("routez", "Routes"),
        ("leafz", "LeafNodes"),
        ("gatewayz", "Gateways"),
        ("healthz", "Health Probe"),
        ("shardz", "Shards"),
        ("metrics", "Prometheus Metrics"),
        ("dashboard", "Dashboard"),
    ];
    let mut items = String::new();
    for (path, title) in links {
        items.push_str(&format!(
            "\t<a href=./{path}>{title}<span class=\"endpoint\"> /{path}</span></a>\n"
        ));
    }
    html(format!(
        r#"<html lang="en">
	<head>
	<style type="text/css">
		body {{ font-family: ui-sans-serif,system-ui,sans-serif; font-size: 18; margin-left: 32px }}
		a {{ display:block; margin-left: 7px; padding-bottom: 6px; color: rgb(72 72 92); text-decoration: none }}
		a:hover {{ font-weight: 600; color: rgb(59 50 202) }}
		.endpoint {{ font-size: 12px; color: #999; font-family: monospace; display: none }}
		a:hover .endpoint {{ display: inline }}
	</style>
	</head>
	<body>
	<h2>Riptide v{RIPTIDE_VERSION}</h2>
{items}	</body>
</html>
"#
    ))
}

pub(super) fn dashboard(_: &Context, _: &Request) -> Response {
    html(DASHBOARD.to_string())
}

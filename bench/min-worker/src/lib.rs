//! MODE = "edge": answer 200 at once. MODE = "forward": relay the request to ORIGIN with
//! the global fetch and return its response. Nothing else.

use worker::wasm_bindgen::JsCast;
use worker::wasm_bindgen_futures::JsFuture;
use worker::{event, js_sys, web_sys, Context, Env, Result};

#[event(fetch)]
async fn fetch(request: web_sys::Request, env: Env, _ctx: Context) -> Result<web_sys::Response> {
    let mode = env.var("MODE").map(|v| v.to_string()).unwrap_or_default();
    if mode != "forward" {
        return Ok(web_sys::Response::new_with_opt_str(Some("ok"))?);
    }
    let origin = env.var("ORIGIN")?.to_string();
    let url = request.url();
    let path = url.splitn(4, '/').nth(3).unwrap_or("");
    let init = web_sys::RequestInit::new();
    init.set_method(&request.method());
    init.set_headers(&request.headers());
    let global: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
    let response = JsFuture::from(global.fetch_with_str_and_init(&format!("{origin}/{path}"), &init)).await?;
    Ok(response.unchecked_into())
}

//! A `lambda_http` handler: the crate turns API Gateway's REST proxy event into an
//! `http::Request` and the response back into the proxy response.
use lambda_http::{run, service_fn, Body, Error, Request, RequestExt, Response};

async fn handle(req: Request) -> Result<Response<Body>, Error> {
    let name = req
        .query_string_parameters()
        .first("name")
        .unwrap_or("world")
        .to_owned();
    let path = req.uri().path().to_owned();
    let method = req.method().as_str().to_owned();
    let body = serde_json::json!({"hello": name, "path": path, "method": method});
    Ok(Response::builder()
        .status(201)
        .header("content-type", "application/json")
        .header("x-handler", "lambda_http")
        .body(Body::from(body.to_string()))?)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(service_fn(handle)).await
}

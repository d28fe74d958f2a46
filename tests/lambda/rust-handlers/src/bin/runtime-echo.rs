//! A `lambda_runtime` handler that deserializes the event as `aws_lambda_events`'
//! `ApiGatewayProxyRequest` (failing the invocation if it does not parse) and answers with what
//! it read.
use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use aws_lambda_events::encodings::Body;
use lambda_runtime::{service_fn, Error, LambdaEvent};

async fn handle(event: LambdaEvent<ApiGatewayProxyRequest>) -> Result<ApiGatewayProxyResponse, Error> {
    let (req, ctx) = event.into_parts();
    let seen = serde_json::json!({
        "parsed": true,
        "path": req.path,
        "method": req.http_method.as_str(),
        "resource": req.resource,
        "query": req.query_string_parameters.first("q"),
        "stage": req.request_context.stage,
        "sourceIp": req.request_context.identity.source_ip,
        "requestId": ctx.request_id,
        "body": req.body,
    });
    let mut resp = ApiGatewayProxyResponse::default();
    resp.status_code = 200;
    resp.body = Some(Body::Text(seen.to_string()));
    Ok(resp)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(handle)).await
}

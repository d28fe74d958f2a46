#!/usr/bin/env bash
# Runs the README's first command (examples/quickstart.sh) on spare ports with HTTPS on, checks that
# the example API answers through both addressing styles and over HTTPS, and stops it. Bounded: gives up after 120 s.
set -euo pipefail
cd "$(dirname "$0")/.."
data=$(mktemp -d)
log=$(mktemp)
BACKEND_PORT=18481 AWS_PORT=18482 PORTICO_PROFILE="${PORTICO_PROFILE:-dev}" timeout 120 \
  bash examples/quickstart.sh --listen 127.0.0.1:18480 --admin-listen 127.0.0.1:18490 \
  --data-dir "$data" --access-log off --tls-listen 127.0.0.1:18443 >"$log" 2>&1 &
pid=$!
cleanup() { kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$data" "$log"; }
trap cleanup EXIT
for _ in $(seq 1 600); do
  grep -q "data plane listening" "$log" && break
  kill -0 "$pid" 2>/dev/null || { cat "$log"; echo "quickstart exited early"; exit 1; }
  sleep 0.2
done
api=$(grep -o 'id [a-z0-9]\{10\}' "$log" | head -1 | cut -d' ' -f2)
[ -n "$api" ] || { cat "$log"; echo "no API id printed"; exit 1; }
ping=$(curl -sf "http://127.0.0.1:18480/restapis/$api/dev/_user_request_/ping")
[ "$ping" = '{"message": "pong"}' ] || { echo "unexpected /ping: $ping"; exit 1; }
pre=$(curl -s -o /dev/null -w '%{http_code}' -X OPTIONS -H "Origin: https://example.com" \
  "http://127.0.0.1:18480/restapis/$api/dev/_user_request_/ping")
[ "$pre" = 204 ] || { echo "unexpected preflight status for /ping: $pre"; exit 1; }
pets=$(curl -sf -H "Host: $api.execute-api.localhost" "http://127.0.0.1:18480/dev/pets/1")
echo "$pets" | grep -q '"type": "dog"' || { echo "unexpected /pets/1: $pets"; exit 1; }
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:18480/restapis/$api/dev/_user_request_/nope")
[ "$code" = 403 ] || { echo "unexpected status for /nope: $code"; exit 1; }
for _ in $(seq 1 300); do
  grep -q "API key for /orders" "$log" && break
  sleep 0.2
done
grep -q "API key for /orders" "$log" || { cat "$log"; echo "provisioning did not finish"; exit 1; }
base="http://127.0.0.1:18480/restapis/$api/dev/_user_request_"
code=$(curl -s -o /dev/null -w '%{http_code}' "$base/orders")
[ "$code" = 403 ] || { echo "unexpected status for /orders without a key: $code"; exit 1; }
orders=$(curl -sf -H "x-api-key: portico-quickstart-key-0123456789" "$base/orders")
echo "$orders" | grep -q '"apiKeyId": "[a-z0-9]\{10\}"' || { echo "unexpected /orders: $orders"; exit 1; }
first=$(curl -sf "$base/clock")
second=$(curl -sf "$base/clock")
[ "$first" = "$second" ] || { echo "/clock not served from the cache: $first then $second"; exit 1; }
hello=$(curl -sf "$base/hello?name=smoke")
echo "$hello" | grep -q '"message": "hello, smoke"' || { echo "unexpected /hello (Lambda): $hello"; exit 1; }
# The HTTP API (apigatewayv2) example: $default route to the backend, GET /hello (payload 2.0),
# native CORS for https://example.com.
http_api=$(grep -o 'HTTP API petstore-http (id [a-z0-9]\{10\}' "$log" | head -1 | grep -o '[a-z0-9]\{10\}$')
[ -n "$http_api" ] || { cat "$log"; echo "the HTTP API was not provisioned"; exit 1; }
pets=$(curl -sf -H "Host: $http_api.execute-api.localhost" "http://127.0.0.1:18480/pets/1")
echo "$pets" | grep -q '"type": "dog"' || { echo "unexpected HTTP API /pets/1: $pets"; exit 1; }
hello=$(curl -sf -H "Host: $http_api.execute-api.localhost" "http://127.0.0.1:18480/hello?name=v2")
echo "$hello" | grep -q '"payloadVersion": "2.0"' || { echo "unexpected HTTP API /hello: $hello"; exit 1; }
cors=$(curl -s -D - -o /dev/null -H "Host: $http_api.execute-api.localhost" -H "Origin: https://example.com" \
  "http://127.0.0.1:18480/pets/1" | tr -d '\r' | grep -i '^access-control-allow-origin:')
[ "$cors" = "access-control-allow-origin: https://example.com" ] || { echo "unexpected HTTP API CORS header: $cors"; exit 1; }
# The WebSocket chat example (examples/websocket-chat): the handshake completes only once $connect's
# Lambda function (chat-onconnect) has accepted the connection.
chat=$(grep -o 'WebSocket API chat (id [a-z0-9]\{10\}' "$log" | head -1 | grep -o '[a-z0-9]\{10\}$')
[ -n "$chat" ] || { cat "$log"; echo "the WebSocket API was not provisioned"; exit 1; }
.venv/bin/python -c 'import sys; from websockets.sync.client import connect; connect(sys.argv[1], open_timeout=10).close()' \
  "ws://127.0.0.1:18480/restapis/$chat/dev" || { echo "the chat API's \$connect failed"; exit 1; }
# GET /me behind the Lambda TOKEN authorizer.
code=$(curl -s -o /dev/null -w '%{http_code}' "$base/me")
[ "$code" = 401 ] || { echo "unexpected status for /me without a token: $code"; exit 1; }
me=$(curl -sf -H "Authorization: Bearer smoke" "$base/me")
[ "$me" = '{"principalId": "smoke", "scope": "quickstart"}' ] || { echo "unexpected /me: $me"; exit 1; }
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer mallory" "$base/me")
[ "$code" = 403 ] || { echo "unexpected status for /me as mallory: $code"; exit 1; }
# GET /admin: AWS_IAM, signed by curl with the example principal (examples/portico-aws.yaml).
code=$(curl -s -o /dev/null -w '%{http_code}' "$base/admin")
[ "$code" = 403 ] || { echo "unexpected status for unsigned /admin: $code"; exit 1; }
admin=$(curl -sf --aws-sigv4 "aws:amz:us-east-1:execute-api" \
  --user AKIAPORTICOEXAMPLE01:portico-example-secret-do-not-use "$base/admin")
echo "$admin" | grep -q '"userArn": "arn:aws:iam::000000000000:user/example-admin"' \
  || { echo "unexpected signed /admin: $admin"; exit 1; }
# AWS service integrations (examples/orders-aws.yaml) against the local moto_server.
orders_api=$(grep -o '"orders-aws" (id [a-z0-9]\{10\}' "$log" | head -1 | grep -o '[a-z0-9]\{10\}$')
[ -n "$orders_api" ] || { cat "$log"; echo "orders-aws was not imported"; exit 1; }
for _ in $(seq 1 300); do
  grep -q "provision_aws: queue, table and state machine ready" "$log" && break
  sleep 0.2
done
aws_base="http://127.0.0.1:18480/restapis/$orders_api/dev/_user_request_"
queued=$(curl -s -X POST -H 'Content-Type: application/json' -d '{"item": "book"}' "$aws_base/orders")
echo "$queued" | grep -q '"orderId": "[0-9a-f-]\{36\}"' || { echo "unexpected POST /orders (SQS): $queued"; exit 1; }
stored=$(curl -s -X PUT -H 'Content-Type: application/json' -d '{"item": "lamp", "qty": 2}' "$aws_base/orders/o-1")
[ "$stored" = '{"stored": "o-1"}' ] || { echo "unexpected PUT /orders/o-1 (DynamoDB): $stored"; exit 1; }
order=$(curl -s "$aws_base/orders/o-1" | tr -d ' \n')
[ "$order" = '{"id":"o-1","item":"lamp","qty":2}' ] || { echo "unexpected GET /orders/o-1 (DynamoDB): $order"; exit 1; }
started=$(curl -s -X POST -H 'Content-Type: application/json' -d '{"order": "o-1"}' "$aws_base/workflows")
echo "$started" | grep -q '"executionArn": "arn:aws:states:us-east-1:123456789012:execution:fulfil-order:' \
  || { echo "unexpected POST /workflows (Step Functions): $started"; exit 1; }
# GET /me of orders-aws: a COGNITO_USER_POOLS authorizer for moto's user pool (provision_aws.py).
for _ in $(seq 1 300); do
  grep -q "takes the pool's ID tokens" "$log" && break
  sleep 0.2
done
grep -q "takes the pool's ID tokens" "$log" || { cat "$log"; echo "the user pool route was not provisioned"; exit 1; }
code=$(curl -s -o /dev/null -w '%{http_code}' "$aws_base/me")
[ "$code" = 401 ] || { echo "unexpected status for /me (Cognito) without a token: $code"; exit 1; }
token=$(.venv/bin/python - <<'PY'
import boto3
idp = boto3.client("cognito-idp", endpoint_url="http://127.0.0.1:18482", region_name="us-east-1",
                   aws_access_key_id="test", aws_secret_access_key="test")
pool = next(p for p in idp.list_user_pools(MaxResults=60)["UserPools"] if p["Name"] == "quickstart-users")["Id"]
client = idp.list_user_pool_clients(UserPoolId=pool, MaxResults=60)["UserPoolClients"][0]["ClientId"]
print(idp.admin_initiate_auth(UserPoolId=pool, ClientId=client, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                              AuthParameters={"USERNAME": "alice", "PASSWORD": "Quickstart-Passw0rd!"})
      ["AuthenticationResult"]["IdToken"])
PY
)
me=$(curl -s -H "Authorization: Bearer $token" "$aws_base/me")
[ "$me" = '{"username": "alice", "tokenUse": "id"}' ] || { echo "unexpected /me (Cognito): $me"; exit 1; }
# HTTPS with the one flag: the local CA in the data directory signs the listener's certificate.
secure=$(curl -sf --cacert "$data/tls/ca.pem" "https://localhost:18443/restapis/$api/dev/_user_request_/ping")
[ "$secure" = '{"message": "pong"}' ] || { echo "unexpected /ping over HTTPS: $secure"; exit 1; }
echo "quickstart smoke: ok (api $api, http and https; AWS services api $orders_api)"

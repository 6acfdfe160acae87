/* The C ceiling: the native core driven straight from C, no Python.
 *
 * Serves the same responses as bench/apps/socketify_app.py for the scenarios
 * the ceiling covers, so each Python-level result can be read as a fraction
 * of what the core alone reaches on this machine:
 *   GET /      -> "Hello, World!" (text/plain) through sk_res_end
 *   GET /json  -> {"message": "Hello, World!"} through sk_res_send (json.dumps bytes)
 * and the WebSocket routes of bench/apps/socketify_ws_app.py (for wsload):
 *   ws /echo   -> every message sent back (sk_ws_send)
 *   ws /sub    -> subscribed to "bench", then sent "subscribed"
 *   ws /pub    -> every message published to "bench" (sk_app_publish)
 *
 * Build (bench/run.py does it), with every C file of native/src:
 *   cc -O2 -std=c11 -Inative/include -Inative/src native/src/(all).c bench/ceiling.c
 *      -lssl -lcrypto -lz -o bench/.work/ceiling
 * Run: ceiling PORT   (prints a ready line, serves until killed) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "socketify.h"

enum { ROUTE_PLAINTEXT = 0, ROUTE_JSON = 1, ROUTE_WS_ECHO = 2, ROUTE_WS_SUB = 3, ROUTE_WS_PUB = 4 };

/* WebSocket ids of the publishers (few: wsload uses one). */
#define MAX_PUBLISHERS 64
static sk_res_id_t g_publishers[MAX_PUBLISHERS];
static int g_npublishers;

static sk_app_t *g_app;

static const char PLAIN_BODY[] = "Hello, World!";
static const char JSON_BODY[] = "{\"message\": \"Hello, World!\"}";
static const char TEXT_PLAIN[] = "text/plain";
static const char APPLICATION_JSON[] = "application/json";

static int upgrade(sk_res_id_t res, sk_req_t *req, int handler_id) {
  size_t key_len = 0;
  const char *key = sk_req_header(req, "sec-websocket-key", 17, &key_len);
  sk_res_id_t ws = 0;
  if (!key || sk_res_upgrade(g_app, res, key, key_len, NULL, 0, NULL, 0, &ws) != SK_OK) {
    sk_res_send(g_app, res, "400 Bad Request", 15, NULL, 0, NULL, 0, 1);
    return 1;
  }
  if (handler_id == ROUTE_WS_SUB) {
    sk_ws_subscribe(g_app, ws, "bench", 5, NULL, NULL);
    sk_ws_send(g_app, ws, "subscribed", 10, 1, 0, 1);
  } else if (handler_id == ROUTE_WS_PUB && g_npublishers < MAX_PUBLISHERS) {
    g_publishers[g_npublishers++] = ws;
  }
  return 1;
}

static int is_publisher(sk_res_id_t ws) {
  for (int i = 0; i < g_npublishers; i++)
    if (g_publishers[i] == ws) return 1;
  return 0;
}

static void on_ws_message(void *user, sk_res_id_t ws, const char *data, size_t len, int opcode) {
  (void)user;
  if (is_publisher(ws))
    sk_app_publish(g_app, "bench", 5, data, len, 1, 0);
  else
    sk_ws_send(g_app, ws, data, len, opcode, 0, 1);
}

static void on_ws_close(void *user, sk_res_id_t ws, int code, const char *reason, size_t len) {
  (void)user;
  (void)code;
  (void)reason;
  (void)len;
  for (int i = 0; i < g_npublishers; i++)
    if (g_publishers[i] == ws) g_publishers[i] = g_publishers[--g_npublishers];
}

static int on_request(void *user, int handler_id, sk_res_id_t res, sk_req_t *req) {
  (void)user;
  if (handler_id >= ROUTE_WS_ECHO) return upgrade(res, req, handler_id);
  if (handler_id == ROUTE_JSON) {
    sk_res_send(g_app, res, NULL, 0, APPLICATION_JSON, sizeof APPLICATION_JSON - 1, JSON_BODY,
                sizeof JSON_BODY - 1, 0);
    return 1;
  }
  sk_res_write_header(g_app, res, "Content-Type", 12, TEXT_PLAIN, sizeof TEXT_PLAIN - 1);
  sk_res_end(g_app, res, PLAIN_BODY, 13, 0);
  return 1;
}

static void on_aborted(void *user, sk_res_id_t res) {
  (void)user;
  (void)res;
}

static void on_data(void *user, sk_res_id_t res, const char *data, size_t len, int is_last) {
  (void)user;
  (void)res;
  (void)data;
  (void)len;
  (void)is_last;
}

static void on_writable(void *user, sk_res_id_t res, uint64_t offset) {
  (void)user;
  (void)res;
  (void)offset;
}

int main(int argc, char **argv) {
  int port = argc > 1 ? atoi(argv[1]) : 3000;
  sk_app_config_t config;
  sk_app_callbacks_t callbacks = {0};
  sk_ws_config_t ws_config = {0};
  callbacks.on_request = on_request;
  callbacks.on_aborted = on_aborted;
  callbacks.on_data = on_data;
  callbacks.on_writable = on_writable;
  callbacks.on_ws_message = on_ws_message;
  callbacks.on_ws_close = on_ws_close;
  ws_config.max_payload_length = 16 * 1024;
  ws_config.idle_timeout_s = 120;
  ws_config.max_backpressure = 64 * 1024 * 1024;
  int bound = 0;

  sk_app_config_default(&config);
  g_app = sk_app_create(&config, &callbacks);
  if (!g_app) {
    fprintf(stderr, "ceiling: sk_app_create failed\n");
    return 1;
  }
  if (sk_app_route(g_app, "GET", 3, "/", 1, ROUTE_PLAINTEXT) != SK_OK ||
      sk_app_route(g_app, "GET", 3, "/json", 5, ROUTE_JSON) != SK_OK ||
      sk_app_ws_route(g_app, "/echo", 5, &ws_config, ROUTE_WS_ECHO) != SK_OK ||
      sk_app_ws_route(g_app, "/sub", 4, &ws_config, ROUTE_WS_SUB) != SK_OK ||
      sk_app_ws_route(g_app, "/pub", 4, &ws_config, ROUTE_WS_PUB) != SK_OK) {
    fprintf(stderr, "ceiling: sk_app_route failed\n");
    return 1;
  }
  if (sk_app_listen(g_app, "127.0.0.1", port, SK_LISTEN_DEFAULT, &bound) != SK_OK) {
    fprintf(stderr, "ceiling: cannot listen on port %d\n", port);
    return 1;
  }
  printf("ready: C ceiling on http://127.0.0.1:%d\n", bound);
  fflush(stdout);
  for (;;) {
    if (sk_app_poll(g_app, -1) < 0) {
      fprintf(stderr, "ceiling: sk_app_poll failed\n");
      return 1;
    }
  }
}

/* The C ceiling: the native core driven straight from C, no Python.
 *
 * Serves the same responses as bench/apps/socketify_app.py for the scenarios
 * the ceiling covers, so each Python-level result can be read as a fraction
 * of what the core alone reaches on this machine:
 *   GET /      -> "Hello, World!" (text/plain) through sk_res_end
 *   GET /json  -> {"message": "Hello, World!"} through sk_res_send (json.dumps bytes)
 *
 * Build (bench/run.py does it), with every C file of native/src:
 *   cc -O2 -std=c11 -Inative/include -Inative/src native/src/(all).c bench/ceiling.c
 *      -lssl -lcrypto -lz -o bench/.work/ceiling
 * Run: ceiling PORT   (prints a ready line, serves until killed) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "socketify.h"

enum { ROUTE_PLAINTEXT = 0, ROUTE_JSON = 1 };

static sk_app_t *g_app;

static const char PLAIN_BODY[] = "Hello, World!";
static const char JSON_BODY[] = "{\"message\": \"Hello, World!\"}";
static const char TEXT_PLAIN[] = "text/plain";
static const char APPLICATION_JSON[] = "application/json";

static int on_request(void *user, int handler_id, sk_res_id_t res, sk_req_t *req) {
  (void)user;
  (void)req;
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
  sk_app_callbacks_t callbacks = {NULL, on_request, on_aborted, on_data, on_writable};
  int bound = 0;

  sk_app_config_default(&config);
  g_app = sk_app_create(&config, &callbacks);
  if (!g_app) {
    fprintf(stderr, "ceiling: sk_app_create failed\n");
    return 1;
  }
  if (sk_app_route(g_app, "GET", 3, "/", 1, ROUTE_PLAINTEXT) != SK_OK ||
      sk_app_route(g_app, "GET", 3, "/json", 5, ROUTE_JSON) != SK_OK) {
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

/* The connection state machine driven without Python: the whole core (http.c,
 * output.c, response.c over a real loop) serves a client socket of this
 * process, and the tests check what each transition shows on the wire and in
 * the response ids. Built and run by `make test-native` (all of native/src,
 * ASan + UBSan, assertions on: an impossible transition aborts). */
#define _GNU_SOURCE /* -std=c11 hides POSIX (sockets, poll) otherwise */
#include "socketify.h"

#include <errno.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <unistd.h>

#include "harness.h"

static sk_app_t *app;
static int deferred;         /* 1: the handler answers later, from the test */
static sk_res_id_t last_res; /* the id the handler was given */
static int requests, aborted;

static int on_request(void *user, int handler_id, sk_res_id_t res, sk_req_t *req) {
  (void)user, (void)handler_id, (void)req;
  requests++;
  last_res = res;
  if (!deferred) sk_res_end(app, res, "ok", 2, 0);
  return 1;
}

static void on_aborted(void *user, sk_res_id_t res) {
  (void)user, (void)res;
  aborted++;
}

static int client(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr = {0};
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) abort();
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

static void pump(int rounds) {
  for (int i = 0; i < rounds; i++) sk_app_poll(app, 5);
}

/* Reads what the server sent within a few loop rounds; -1 in *eof_out when the
 * server closed (EOF) too. */
static size_t drain(int fd, char *out, size_t cap, int *eof) {
  size_t len = 0;
  *eof = 0;
  for (int i = 0; i < 40 && !*eof; i++) {
    pump(1);
    struct pollfd p = {fd, POLLIN, 0};
    while (poll(&p, 1, 0) > 0 && len < cap - 1) {
      ssize_t n = read(fd, out + len, cap - 1 - len);
      if (n <= 0) {
        *eof = 1;
        break;
      }
      len += (size_t)n;
    }
  }
  out[len] = '\0';
  return len;
}

static int count(const char *hay, const char *needle) {
  int n = 0;
  for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++) n++;
  return n;
}

static void send_all(int fd, const char *s) {
  if (write(fd, s, strlen(s)) != (ssize_t)strlen(s)) abort();
}

static const char GET[] = "GET / HTTP/1.1\r\nHost: t\r\n\r\n";

int main(void) {
  sk_app_config_t config;
  sk_app_config_default(&config);
  sk_app_callbacks_t callbacks = {0};
  callbacks.on_request = on_request;
  callbacks.on_aborted = on_aborted;
  app = sk_app_create(&config, &callbacks);
  int port = 0;
  if (!app || sk_app_route(app, NULL, 0, "/*", 2, 1) != SK_OK ||
      sk_app_listen(app, "127.0.0.1", 0, 0, &port) != SK_OK)
    abort();
  char buf[8192];
  int eof;

  /* Keep-alive: HEAD -> REQUEST -> DONE -> HEAD, twice on one connection. */
  int fd = client(port);
  send_all(fd, GET);
  drain(fd, buf, sizeof buf, &eof);
  CHECK(count(buf, "HTTP/1.1 200 OK") == 1 && !eof);
  sk_res_id_t first = last_res;
  send_all(fd, GET);
  drain(fd, buf, sizeof buf, &eof);
  CHECK(count(buf, "HTTP/1.1 200 OK") == 1 && !eof);
  CHECK(last_res != first && (uint32_t)last_res == (uint32_t)first); /* same slot, new serial */
  /* The ended response's id is dead: the state ended it, not the caller. */
  CHECK(sk_res_end(app, first, "x", 1, 0) == SK_ERR_STALE);

  /* Pipelined behind a response that is not written yet: the second request
   * waits in REQUEST until the first ends, then goes in order. */
  deferred = 1;
  requests = 0;
  send_all(fd, "GET /a HTTP/1.1\r\nHost: t\r\n\r\nGET /b HTTP/1.1\r\nHost: t\r\n\r\n");
  drain(fd, buf, sizeof buf, &eof);
  CHECK(requests == 1 && strlen(buf) == 0);
  CHECK(sk_res_state(app, last_res) & SK_RES_VALID);
  CHECK(sk_res_write_status(app, last_res, "201 Created", 11) == SK_OK);
  CHECK(sk_res_state(app, last_res) & SK_RES_HEADERS_SENT); /* STATUS staged */
  CHECK(sk_res_discard_head(app, last_res) == SK_OK);       /* back to NONE */
  CHECK(!(sk_res_state(app, last_res) & SK_RES_HEADERS_SENT));
  CHECK(sk_res_write(app, last_res, "ab", 2) == SK_OK); /* BODY */
  CHECK(sk_res_state(app, last_res) & SK_RES_BODY_STARTED);
  sk_res_id_t a = last_res;
  CHECK(sk_res_end(app, a, "c", 1, 0) == SK_OK); /* DONE, then HEAD again */
  pump(4);
  CHECK(requests == 2 && last_res != a);
  CHECK(sk_res_end(app, last_res, "d", 1, 0) == SK_OK);
  drain(fd, buf, sizeof buf, &eof);
  /* chunked: the body streamed before its length was known */
  CHECK(count(buf, "HTTP/1.1 200 OK") == 2 && strstr(buf, "2\r\nab\r\n1\r\nc\r\n0\r\n") && !eof);
  CHECK(strstr(buf, "201") == NULL); /* the discarded head never left */

  /* A response ended with close: CLOSING, then the write side shuts. */
  send_all(fd, GET);
  pump(2);
  CHECK(sk_res_end(app, last_res, "bye", 3, 1) == SK_OK);
  drain(fd, buf, sizeof buf, &eof);
  CHECK(strstr(buf, "Connection: close") != NULL && eof);
  close(fd);
  pump(2);

  /* The client leaves while its response is pending: aborted once. */
  aborted = 0;
  fd = client(port);
  send_all(fd, GET);
  pump(3);
  sk_res_id_t gone = last_res;
  close(fd);
  pump(5);
  CHECK(aborted == 1 && sk_res_end(app, gone, "x", 1, 0) == SK_ERR_STALE);

  /* A refused head: a canned 400 straight from HEAD, then CLOSING. */
  deferred = 0;
  fd = client(port);
  send_all(fd, "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
  drain(fd, buf, sizeof buf, &eof);
  CHECK(strncmp(buf, "HTTP/1.1 400 ", 13) == 0 && eof);
  close(fd);

  /* A head trickled a byte at a time is still answered at its end. */
  fd = client(port);
  for (const char *p = GET; *p; p++) {
    if (write(fd, p, 1) != 1) abort();
    pump(1);
  }
  drain(fd, buf, sizeof buf, &eof);
  CHECK(count(buf, "HTTP/1.1 200 OK") == 1 && !eof);
  close(fd);

  pump(2);
  sk_app_destroy(app);
  return t_summary();
}

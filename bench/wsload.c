/* wsload: a WebSocket load generator (and a trivial C WebSocket server, to
 * measure the generator's own ceiling). C11, POSIX sockets + epoll, no
 * dependencies. Single-threaded: run.py pins it to one core like wrk.
 *
 * Echo mode: N connections upgrade on PATH (default /echo), each keeps K
 * masked text frames of S bytes in flight; every echoed frame is checked
 * byte for byte against what that connection sent, in order.
 *   wsload --port P [--path /echo] [-c N] [-k K] [-s S] [-d SECONDS]
 *
 * Pub/sub mode: M subscribers upgrade on /sub (the server subscribes them to
 * topic "bench" and sends them one "subscribed" text frame: the start
 * barrier), one publisher on /pub (the server publishes every message it
 * sends to "bench"). The publisher keeps W messages in flight (a message is
 * done once every subscriber got it); each subscriber checks it receives
 * every sequence number, in order, with the exact payload.
 *   wsload --pubsub --port P [--subs M] [--window W] [-s S] [-d SECONDS] [--latency-at-half]
 * With --latency-at-half a second run of SECONDS follows, publishing at half
 * the first run's rate: the rate reported is the first run's, the latency
 * the second's (latency at full speed is mostly queueing).
 *
 * One result line on stdout:
 *   RESULT mode=echo connections=64 inflight=1 size=20 seconds=5.00 messages=N rate=R errors=0
 *   RESULT mode=pubsub subscribers=500 window=16 size=20 seconds=5.00 published=N messages=D rate=R p50_us=L p99_us=L timed=T errors=0
 * (rate = echoed messages/s, or deliveries/s over all subscribers; p50_us and
 * p99_us: publish-to-delivery latency, from the publisher's send to each
 * subscriber's read, in microseconds, over T timed deliveries). Any
 * verification failure prints "ERROR ..." on stderr and exits with status 2.
 *
 * Server mode (the generator's ceiling): wsload --serve PORT
 *   GET / -> 200 Hello, World!; upgrades on /echo (echo), /sub, /pub as above.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS 512
#define READ_CHUNK 65536

enum { ROLE_ECHO = 0, ROLE_PUB = 1, ROLE_SUB = 2, ROLE_HANDSHAKE = 3 };

typedef struct {
  char *data;
  size_t len, off, cap;
} buf_t;

typedef struct conn {
  int fd, id, role, want_out, dirty, closing;
  buf_t in, out;
  uint64_t sent, received; /* echo: sequence numbers sent / verified */
  uint64_t next_expected;  /* sub: next sequence number */
  int ready;               /* sub: got "subscribed" */
  uint32_t mask_state;
} conn_t;

static int g_epoll;
static const char *g_host = "127.0.0.1";

static void die(const char *what) {
  fprintf(stderr, "ERROR %s: %s\n", what, strerror(errno));
  exit(1);
}

static void fail(const char *fmt, const char *detail, long long a, long long b) {
  fprintf(stderr, "ERROR ");
  fprintf(stderr, fmt, detail, a, b);
  fprintf(stderr, "\n");
  exit(2);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void buf_reserve(buf_t *b, size_t extra) {
  if (b->off && b->off == b->len) b->off = b->len = 0;
  if (b->len + extra <= b->cap) return;
  if (b->off) { /* compact first */
    memmove(b->data, b->data + b->off, b->len - b->off);
    b->len -= b->off;
    b->off = 0;
    if (b->len + extra <= b->cap) return;
  }
  size_t cap = b->cap ? b->cap : 4096;
  while (cap < b->len + extra) cap *= 2;
  b->data = realloc(b->data, cap);
  if (!b->data) die("realloc");
  b->cap = cap;
}

static void buf_append(buf_t *b, const void *data, size_t len) {
  buf_reserve(b, len);
  memcpy(b->data + b->len, data, len);
  b->len += len;
}

/* ------------------------------------------------------------- payloads */

static const char HEX[] = "0123456789abcdef";

/* S bytes of ASCII naming (id, seq): "iiii:ssssssssssssss" then filler
 * letters that depend on seq. */
static char *g_filler; /* "abc...zabc..." of size + 26 bytes */

static void make_payload(char *out, size_t size, unsigned id, uint64_t seq) {
  for (int i = 0; i < 4; i++) out[i] = HEX[(id >> (12 - 4 * i)) & 15];
  out[4] = ':';
  for (int i = 0; i < 14; i++) out[5 + i] = HEX[(seq >> (52 - 4 * i)) & 15];
  memcpy(out + 19, g_filler + seq % 26, size - 19);
}

static void init_filler(size_t size) {
  g_filler = malloc(size + 26);
  if (!g_filler) die("malloc");
  for (size_t i = 0; i < size + 26; i++) g_filler[i] = (char)('a' + i % 26);
}

/* A masked client frame (fin, opcode) around payload. */
static void append_client_frame(conn_t *c, int opcode, const char *payload, size_t len) {
  unsigned char head[14];
  size_t n = 0;
  head[n++] = (unsigned char)(0x80 | opcode);
  if (len < 126) {
    head[n++] = (unsigned char)(0x80 | len);
  } else if (len < 65536) {
    head[n++] = 0x80 | 126;
    head[n++] = (unsigned char)(len >> 8);
    head[n++] = (unsigned char)len;
  } else {
    head[n++] = 0x80 | 127;
    for (int i = 7; i >= 0; i--) head[n++] = (unsigned char)((uint64_t)len >> (8 * i));
  }
  /* xorshift mask per frame */
  uint32_t x = c->mask_state;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  c->mask_state = x;
  unsigned char mask[4] = {(unsigned char)x, (unsigned char)(x >> 8), (unsigned char)(x >> 16),
                           (unsigned char)(x >> 24)};
  memcpy(head + n, mask, 4);
  n += 4;
  buf_reserve(&c->out, n + len);
  memcpy(c->out.data + c->out.len, head, n);
  unsigned char *dst = (unsigned char *)c->out.data + c->out.len + n;
  for (size_t i = 0; i < len; i++) dst[i] = (unsigned char)payload[i] ^ mask[i & 3];
  c->out.len += n + len;
}

/* An unmasked server frame. */
static void append_server_frame(conn_t *c, int opcode, const char *payload, size_t len) {
  unsigned char head[10];
  size_t n = 0;
  head[n++] = (unsigned char)(0x80 | opcode);
  if (len < 126) {
    head[n++] = (unsigned char)len;
  } else if (len < 65536) {
    head[n++] = 126;
    head[n++] = (unsigned char)(len >> 8);
    head[n++] = (unsigned char)len;
  } else {
    head[n++] = 127;
    for (int i = 7; i >= 0; i--) head[n++] = (unsigned char)((uint64_t)len >> (8 * i));
  }
  buf_append(&c->out, head, n);
  buf_append(&c->out, payload, len);
}

/* Parses one frame at the start of the input buffer. Returns 1 and fills
 * opcode/payload (unmasked in place), 0 when incomplete. */
static int next_frame(conn_t *c, int *opcode, char **payload, size_t *len) {
  unsigned char *p = (unsigned char *)c->in.data + c->in.off;
  size_t avail = c->in.len - c->in.off, need = 2;
  if (avail < 2) return 0;
  int fin = p[0] & 0x80, masked = p[1] & 0x80;
  uint64_t plen = p[1] & 0x7f;
  if (plen == 126) {
    need = 4;
    if (avail < need) return 0;
    plen = ((uint64_t)p[2] << 8) | p[3];
  } else if (plen == 127) {
    need = 10;
    if (avail < need) return 0;
    plen = 0;
    for (int i = 0; i < 8; i++) plen = (plen << 8) | p[2 + i];
  }
  size_t mask_at = need;
  if (masked) need += 4;
  if (avail < need + plen) return 0;
  if (!fin || (p[0] & 0x70)) fail("%s: fragmented or RSV frame on connection %lld (%lld)",
                                   "protocol", c->id, p[0]);
  *opcode = p[0] & 0x0f;
  *payload = (char *)p + need;
  *len = (size_t)plen;
  if (masked) {
    unsigned char *m = p + mask_at;
    for (uint64_t i = 0; i < plen; i++) p[need + i] ^= m[i & 3];
  }
  c->in.off += need + plen;
  return 1;
}

/* Writes what it can; EPOLLOUT on while something is left. 0, or -1 on error. */
static int flush_out(conn_t *c) {
  while (c->out.off < c->out.len) {
    ssize_t n = send(c->fd, c->out.data + c->out.off, c->out.len - c->out.off, MSG_NOSIGNAL);
    if (n > 0) {
      c->out.off += (size_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    return -1;
  }
  if (c->out.off == c->out.len) c->out.off = c->out.len = 0;
  int want = c->out.len > 0;
  if (want != c->want_out) {
    struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(g_epoll, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = want;
  }
  return 0;
}

/* Reads what is there into c->in. Returns bytes read, 0 on EOF, -1 on
 * EAGAIN, -2 on error. */
static ssize_t read_in(conn_t *c) {
  buf_reserve(&c->in, READ_CHUNK);
  ssize_t n = recv(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len, 0);
  if (n > 0) {
    c->in.len += (size_t)n;
    return n;
  }
  if (n == 0) return 0;
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return -1;
  return -2;
}

static void set_nonblocking(int fd) {
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* ------------------------------------------------------------- SHA-1 */

static uint32_t rol(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

static void sha1(const unsigned char *msg, size_t len, unsigned char out[20]) {
  uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
  size_t total = ((len + 8) / 64 + 1) * 64;
  unsigned char *m = calloc(total, 1);
  if (!m) die("calloc");
  memcpy(m, msg, len);
  m[len] = 0x80;
  uint64_t bits = (uint64_t)len * 8;
  for (int i = 0; i < 8; i++) m[total - 1 - i] = (unsigned char)(bits >> (8 * i));
  for (size_t chunk = 0; chunk < total; chunk += 64) {
    uint32_t w[80];
    for (int i = 0; i < 16; i++)
      w[i] = ((uint32_t)m[chunk + 4 * i] << 24) | ((uint32_t)m[chunk + 4 * i + 1] << 16) |
             ((uint32_t)m[chunk + 4 * i + 2] << 8) | m[chunk + 4 * i + 3];
    for (int i = 16; i < 80; i++) w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; i++) {
      uint32_t f, k;
      if (i < 20) f = (b & c) | (~b & d), k = 0x5A827999;
      else if (i < 40) f = b ^ c ^ d, k = 0x6ED9EBA1;
      else if (i < 60) f = (b & c) | (b & d) | (c & d), k = 0x8F1BBCDC;
      else f = b ^ c ^ d, k = 0xCA62C1D6;
      uint32_t t = rol(a, 5) + f + e + k + w[i];
      e = d, d = c, c = rol(b, 30), b = a, a = t;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
  }
  free(m);
  for (int i = 0; i < 5; i++)
    for (int j = 0; j < 4; j++) out[4 * i + j] = (unsigned char)(h[i] >> (24 - 8 * j));
}

static void base64(const unsigned char *in, size_t len, char *out) {
  static const char T[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t o = 0;
  for (size_t i = 0; i < len; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0) |
                 (i + 2 < len ? in[i + 2] : 0);
    out[o++] = T[(v >> 18) & 63];
    out[o++] = T[(v >> 12) & 63];
    out[o++] = i + 1 < len ? T[(v >> 6) & 63] : '=';
    out[o++] = i + 2 < len ? T[v & 63] : '=';
  }
  out[o] = 0;
}

static void accept_key(const char *key, size_t key_len, char out[29]) {
  static const char GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char joined[256], digest[20];
  if (key_len > 200) key_len = 200;
  memcpy(joined, key, key_len);
  memcpy(joined + key_len, GUID, sizeof GUID - 1);
  sha1(joined, key_len + sizeof GUID - 1, digest);
  base64(digest, 20, out);
}

/* ------------------------------------------------------------- client */

static const char CLIENT_KEY[] = "dGhlIHNhbXBsZSBub25jZQ==";

typedef struct {
  int port, connections, inflight, size, subs, window, pubsub, latency_at_half;
  double seconds;
  const char *path;
} options_t;

/* Connects and completes the handshake (blocking), then goes non-blocking;
 * bytes after the 101 head stay in c->in. */
static void client_connect(conn_t *c, const options_t *o, const char *path) {
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o->port)};
  inet_pton(AF_INET, g_host, &addr.sin_addr);
  c->fd = socket(AF_INET, SOCK_STREAM, 0);
  if (c->fd < 0) die("socket");
  struct timeval tv = {.tv_sec = 10};
  setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) < 0) die("connect");
  char req[512];
  int n = snprintf(req, sizeof req,
                   "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
                   path, g_host, o->port, CLIENT_KEY);
  if (send(c->fd, req, (size_t)n, MSG_NOSIGNAL) != n) die("send handshake");
  char *end = NULL;
  while (!end) {
    buf_reserve(&c->in, 4096);
    ssize_t r = recv(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len - 1, 0);
    if (r <= 0) {
      fprintf(stderr, "ERROR handshake on %s: connection closed or timed out\n", path);
      exit(2);
    }
    c->in.len += (size_t)r;
    c->in.data[c->in.len] = 0;
    end = strstr(c->in.data, "\r\n\r\n");
  }
  char accept[29];
  accept_key(CLIENT_KEY, sizeof CLIENT_KEY - 1, accept);
  if (strncmp(c->in.data, "HTTP/1.1 101", 12) != 0 || !strcasestr(c->in.data, accept)) {
    *end = 0;
    fprintf(stderr, "ERROR handshake on %s refused: %.200s\n", path, c->in.data);
    exit(2);
  }
  c->in.off = (size_t)(end + 4 - c->in.data);
  tv.tv_sec = 0;
  setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  set_nonblocking(c->fd);
  c->mask_state = 0x9E3779B9u ^ (uint32_t)(c->id * 2654435761u);
  if (!c->mask_state) c->mask_state = 1;
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
  if (epoll_ctl(g_epoll, EPOLL_CTL_ADD, c->fd, &ev) < 0) die("epoll_ctl");
}

/* Pub/sub bookkeeping: a message is done once all subscribers got it. */
static uint64_t g_published, g_done, *g_counts;
static int g_all_ready;
/* --latency-at-half, second run: at most g_rate_limit publishes/s from g_limit_start. */
static double g_rate_limit, g_limit_start;
static uint64_t g_limit_base;
static char *g_ring; /* the payload of seq s at (s % window) * size */
static double *g_sent_at; /* when seq s was sent, at s % window */
/* Publish-to-delivery latency histogram: 10 us buckets up to 1 s, then one. */
#define LAT_BUCKETS 100001
static uint64_t g_latency[LAT_BUCKETS], g_latency_count;

static void record_latency(double seconds) {
  double bucket = seconds < 0 ? 0 : seconds * 1e5;
  g_latency[bucket >= LAT_BUCKETS - 1 ? LAT_BUCKETS - 1 : (size_t)bucket]++;
  g_latency_count++;
}

/* The latency (us) under which a fraction q of the deliveries arrived. */
static double latency_quantile(double q, uint64_t total) {
  uint64_t want = (uint64_t)(q * (double)total), seen = 0;
  for (size_t i = 0; i < LAT_BUCKETS; i++) {
    seen += g_latency[i];
    if (seen > want) return (double)i * 10.0 + 5.0;
  }
  return (double)(LAT_BUCKETS - 1) * 10.0;
}

static void publish_more(conn_t *pub, const options_t *o, char *payload) {
  (void)payload;
  while (g_published - g_done < (uint64_t)o->window) {
    if (g_rate_limit > 0 &&
        (double)(g_published - g_limit_base) >= (now_s() - g_limit_start) * g_rate_limit)
      break;
    char *slot = g_ring + (g_published % (uint64_t)o->window) * (size_t)o->size;
    g_sent_at[g_published % (uint64_t)o->window] = now_s();
    make_payload(slot, (size_t)o->size, 0xffff, g_published);
    append_client_frame(pub, 1, slot, (size_t)o->size);
    g_published++;
  }
}

static int run_client(const options_t *o) {
  int total = o->pubsub ? o->subs + 1 : o->connections;
  conn_t *conns = calloc((size_t)total, sizeof *conns);
  char *payload = malloc((size_t)o->size), *expected = malloc((size_t)o->size);
  g_epoll = epoll_create1(0);
  if (!conns || !payload || !expected || g_epoll < 0) die("setup");
  for (int i = 0; i < total; i++) {
    conns[i].id = i;
    if (o->pubsub) {
      conns[i].role = i == 0 ? ROLE_PUB : ROLE_SUB;
      client_connect(&conns[i], o, i == 0 ? "/pub" : "/sub");
    } else {
      conns[i].role = ROLE_ECHO;
      client_connect(&conns[i], o, o->path);
    }
  }
  if (o->pubsub) {
    g_counts = calloc((size_t)o->window, sizeof *g_counts);
    g_ring = malloc((size_t)o->window * (size_t)o->size);
    g_sent_at = calloc((size_t)o->window, sizeof *g_sent_at);
    if (!g_counts || !g_ring || !g_sent_at) die("malloc");
  }
  int ready = 0, phase = 1;
  uint64_t messages = 0, first_messages = 0, first_published = 0;
  double first_elapsed = 0;
  double start = now_s(), deadline = start + o->seconds, barrier_deadline = start + 10;
  if (!o->pubsub) {
    for (int i = 0; i < total; i++) {
      for (int k = 0; k < o->inflight; k++) {
        make_payload(payload, (size_t)o->size, (unsigned)i, conns[i].sent++);
        append_client_frame(&conns[i], 1, payload, (size_t)o->size);
      }
      if (flush_out(&conns[i]) < 0) die("send");
    }
  }
  struct epoll_event events[MAX_EVENTS];
  /* frames that arrived with the 101 are handled on the first pass */
  int first_pass = 1;
  for (;;) {
    double t = now_s();
    if (g_all_ready || !o->pubsub) {
      if (t >= deadline && o->pubsub && o->latency_at_half && phase == 1) {
        /* The second run: half the first run's publish rate, fresh latencies. */
        phase = 2;
        first_messages = messages;
        first_published = g_published;
        first_elapsed = t - start;
        memset(g_latency, 0, sizeof g_latency);
        g_latency_count = 0;
        g_rate_limit = (double)g_published / first_elapsed / 2;
        g_limit_start = t;
        g_limit_base = g_published;
        deadline = t + o->seconds;
      } else if (t >= deadline) {
        break;
      }
    } else if (t >= barrier_deadline) {
      fprintf(stderr, "ERROR only %d of %d subscribers confirmed within 10 s\n", ready, o->subs);
      exit(2);
    }
    int n;
    if (first_pass) {
      n = 0;
    } else {
      n = epoll_wait(g_epoll, events, MAX_EVENTS, g_rate_limit > 0 ? 1 : 50);
      if (n < 0 && errno != EINTR) die("epoll_wait");
    }
    double read_at = now_s(); /* one clock read per batch of events */
    int todo = first_pass ? total : n;
    for (int e = 0; e < todo; e++) {
      conn_t *c = first_pass ? &conns[e] : events[e].data.ptr;
      if (!first_pass && (events[e].events & EPOLLOUT)) {
        if (flush_out(c) < 0) fail("%s: send failed on connection %lld (%lld)", "io", c->id, 0);
      }
      if (!first_pass && !(events[e].events & (EPOLLIN | EPOLLERR | EPOLLHUP))) continue;
      if (!first_pass) {
        ssize_t r = read_in(c);
        if (r == 0 || r == -2)
          fail("%s: connection %lld closed by the server (%lld)", "io", c->id, r);
        if (r == -1) continue;
      }
      int opcode;
      char *data;
      size_t len;
      while (next_frame(c, &opcode, &data, &len)) {
        if (opcode == 9 || opcode == 10) continue; /* ping/pong: ignored */
        if (opcode == 8) fail("%s: close frame on connection %lld (%lld)", "protocol", c->id, 0);
        if (c->role == ROLE_ECHO) {
          make_payload(expected, (size_t)o->size, (unsigned)c->id, c->received);
          if (len != (size_t)o->size || memcmp(data, expected, len) != 0)
            fail("%s: echo mismatch on connection %lld at message %lld", "verify", c->id,
                 (long long)c->received);
          c->received++;
          messages++;
          make_payload(payload, (size_t)o->size, (unsigned)c->id, c->sent++);
          append_client_frame(c, 1, payload, (size_t)o->size);
        } else if (c->role == ROLE_SUB) {
          if (!c->ready) {
            if (len != 10 || memcmp(data, "subscribed", 10) != 0)
              fail("%s: subscriber %lld got %lld bytes before 'subscribed'", "verify", c->id,
                   (long long)len);
            c->ready = 1;
            if (++ready == o->subs) {
              g_all_ready = 1;
              start = now_s();
              deadline = start + o->seconds;
              publish_more(&conns[0], o, payload);
              if (flush_out(&conns[0]) < 0) die("send");
            }
            continue;
          }
          uint64_t seq = c->next_expected;
          if (seq >= g_published)
            fail("%s: subscriber %lld got a message after seq %lld, before it was published",
                 "verify", c->id, (long long)seq);
          const char *want = g_ring + (seq % (uint64_t)o->window) * (size_t)o->size;
          if (len != (size_t)o->size || memcmp(data, want, len) != 0)
            fail("%s: subscriber %lld: message out of order or corrupt, expected seq %lld",
                 "verify", c->id, (long long)seq);
          c->next_expected++;
          messages++;
          if (seq >= g_limit_base) /* the second run times only its own messages */
            record_latency(read_at - g_sent_at[seq % (uint64_t)o->window]);
          g_counts[seq % (uint64_t)o->window]++;
          while (g_done < g_published && g_counts[g_done % (uint64_t)o->window] == (uint64_t)o->subs) {
            g_counts[g_done % (uint64_t)o->window] = 0;
            g_done++;
          }
        } else {
          fail("%s: the publisher (connection %lld) got a message (%lld bytes)", "verify", c->id,
               (long long)len);
        }
      }
      if (c->role == ROLE_ECHO && flush_out(c) < 0)
        fail("%s: send failed on connection %lld (%lld)", "io", c->id, 0);
    }
    first_pass = 0;
    if (o->pubsub && g_all_ready) {
      publish_more(&conns[0], o, payload);
      if (flush_out(&conns[0]) < 0) fail("%s: publisher send failed (%lld %lld)", "io", 0, 0);
    }
  }
  double elapsed = now_s() - start;
  if (phase == 2) {
    messages = first_messages;
    g_published = first_published;
    elapsed = first_elapsed;
  }
  if (o->pubsub)
    printf("RESULT mode=pubsub subscribers=%d window=%d size=%d seconds=%.2f published=%llu "
           "messages=%llu rate=%.1f p50_us=%.0f p99_us=%.0f timed=%llu errors=0\n",
           o->subs, o->window, o->size, elapsed, (unsigned long long)g_published,
           (unsigned long long)messages, messages / elapsed, latency_quantile(0.50, g_latency_count),
           latency_quantile(0.99, g_latency_count), (unsigned long long)g_latency_count);
  else
    printf("RESULT mode=echo connections=%d inflight=%d size=%d seconds=%.2f messages=%llu "
           "rate=%.1f errors=0\n",
           o->connections, o->inflight, o->size, elapsed, (unsigned long long)messages,
           messages / elapsed);
  fflush(stdout);
  return 0;
}

/* ------------------------------------------------------------- server */

static conn_t **g_subs;
static size_t g_nsubs, g_subs_cap;
static conn_t **g_dirty;
static size_t g_ndirty, g_dirty_cap;

static void mark_dirty(conn_t *c) {
  if (c->dirty) return;
  if (g_ndirty == g_dirty_cap) {
    g_dirty_cap = g_dirty_cap ? 2 * g_dirty_cap : 256;
    g_dirty = realloc(g_dirty, g_dirty_cap * sizeof *g_dirty);
  }
  g_dirty[g_ndirty++] = c;
  c->dirty = 1;
}

static void server_close(conn_t *c) {
  if (c->role == ROLE_SUB)
    for (size_t i = 0; i < g_nsubs; i++)
      if (g_subs[i] == c) {
        g_subs[i] = g_subs[--g_nsubs];
        break;
      }
  epoll_ctl(g_epoll, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  c->closing = 1; /* freed lazily: may still be in the dirty list */
}

static int server_handshake(conn_t *c) {
  c->in.data[c->in.len] = 0;
  char *end = strstr(c->in.data + c->in.off, "\r\n\r\n");
  if (!end) return 0;
  char path[64] = "";
  sscanf(c->in.data + c->in.off, "GET %63s", path);
  char *key = strcasestr(c->in.data + c->in.off, "\r\nsec-websocket-key:");
  if (!key) {
    static const char OK[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n"
                             "Connection: close\r\n\r\nHello, World!";
    buf_append(&c->out, OK, sizeof OK - 1);
    c->closing = 2; /* close once written */
    c->in.off = (size_t)(end + 4 - c->in.data);
    return 1;
  }
  key += 20;
  while (*key == ' ') key++;
  size_t key_len = strcspn(key, " \r\n");
  char accept[29], head[256];
  accept_key(key, key_len, accept);
  int n = snprintf(head, sizeof head,
                   "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Accept: %s\r\n\r\n",
                   accept);
  buf_append(&c->out, head, (size_t)n);
  c->in.off = (size_t)(end + 4 - c->in.data);
  if (strcmp(path, "/sub") == 0) {
    c->role = ROLE_SUB;
    if (g_nsubs == g_subs_cap) {
      g_subs_cap = g_subs_cap ? 2 * g_subs_cap : 1024;
      g_subs = realloc(g_subs, g_subs_cap * sizeof *g_subs);
    }
    g_subs[g_nsubs++] = c;
    append_server_frame(c, 1, "subscribed", 10);
  } else {
    c->role = strcmp(path, "/pub") == 0 ? ROLE_PUB : ROLE_ECHO;
  }
  return 1;
}

static conn_t **g_freed;
static size_t g_nfreed, g_freed_cap;

static void free_later(conn_t *c) {
  if (g_nfreed == g_freed_cap) {
    g_freed_cap = g_freed_cap ? 2 * g_freed_cap : 64;
    g_freed = realloc(g_freed, g_freed_cap * sizeof *g_freed);
    if (!g_freed) die("realloc");
  }
  g_freed[g_nfreed++] = c;
}

static int run_server(int port) {
  int lfd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(lfd, 4096) < 0) die("listen");
  set_nonblocking(lfd);
  g_epoll = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(g_epoll, EPOLL_CTL_ADD, lfd, &ev);
  printf("ready: wsload echo server on ws://127.0.0.1:%d\n", port);
  fflush(stdout);
  struct epoll_event events[MAX_EVENTS];
  for (;;) {
    int n = epoll_wait(g_epoll, events, MAX_EVENTS, -1);
    if (n < 0 && errno != EINTR) die("epoll_wait");
    for (int e = 0; e < n; e++) {
      conn_t *c = events[e].data.ptr;
      if (!c) {
        int fd;
        while ((fd = accept(lfd, NULL, NULL)) >= 0) {
          set_nonblocking(fd);
          conn_t *nc = calloc(1, sizeof *nc);
          nc->fd = fd;
          nc->role = ROLE_HANDSHAKE;
          struct epoll_event cev = {.events = EPOLLIN, .data.ptr = nc};
          epoll_ctl(g_epoll, EPOLL_CTL_ADD, fd, &cev);
        }
        continue;
      }
      if (c->closing == 1) continue;
      if (events[e].events & EPOLLOUT) mark_dirty(c);
      if (c->closing) continue;
      if (!(events[e].events & (EPOLLIN | EPOLLERR | EPOLLHUP))) continue;
      ssize_t r = read_in(c);
      if (r == 0 || r == -2) {
        server_close(c);
        mark_dirty(c);
        continue;
      }
      if (r == -1) continue;
      if (c->role == ROLE_HANDSHAKE) {
        buf_reserve(&c->in, 1);
        if (!server_handshake(c)) continue;
        mark_dirty(c);
      }
      int opcode;
      char *data;
      size_t len;
      while (!c->closing && next_frame(c, &opcode, &data, &len)) {
        if (opcode == 8) {
          server_close(c);
          mark_dirty(c);
        } else if (opcode == 9) {
          append_server_frame(c, 10, data, len);
          mark_dirty(c);
        } else if (opcode == 10) {
        } else if (c->role == ROLE_PUB) {
          for (size_t i = 0; i < g_nsubs; i++) {
            append_server_frame(g_subs[i], opcode, data, len);
            mark_dirty(g_subs[i]);
          }
        } else if (c->role == ROLE_ECHO) {
          append_server_frame(c, opcode, data, len);
          mark_dirty(c);
        }
      }
    }
    for (size_t i = 0; i < g_ndirty; i++) {
      conn_t *c = g_dirty[i];
      c->dirty = 0;
      if (c->closing == 1) {
        free_later(c);
        continue;
      }
      if (flush_out(c) < 0) {
        server_close(c);
        free_later(c);
        continue;
      }
      if (c->closing == 2 && c->out.len == 0) {
        server_close(c);
        free_later(c);
      }
    }
    g_ndirty = 0;
    for (size_t i = 0; i < g_nfreed; i++) {
      free(g_freed[i]->in.data);
      free(g_freed[i]->out.data);
      free(g_freed[i]);
    }
    g_nfreed = 0;
  }
  return 0;
}

/* ------------------------------------------------------------- main */

static void usage(void) {
  fprintf(stderr,
          "usage: wsload --port P [--host H] [--path /echo] [-c N] [-k K] [-s S] [-d SECONDS]\n"
          "       wsload --pubsub --port P [--subs M] [--window W] [-s S] [-d SECONDS]\n"
          "              [--latency-at-half]\n"
          "       wsload --serve PORT\n");
  exit(1);
}

int main(int argc, char **argv) {
  options_t o = {.port = 0, .connections = 64, .inflight = 1, .size = 20, .subs = 500,
                 .window = 16, .pubsub = 0, .seconds = 5, .path = "/echo"};
  signal(SIGPIPE, SIG_IGN);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--pubsub")) { o.pubsub = 1; continue; }
    if (!strcmp(a, "--latency-at-half")) { o.latency_at_half = 1; continue; }
    if (!v) usage();
    if (!strcmp(a, "--serve")) {
      init_filler(20);
      return run_server(atoi(v));
    }
    else if (!strcmp(a, "--port")) o.port = atoi(v);
    else if (!strcmp(a, "--host")) g_host = v;
    else if (!strcmp(a, "--path")) o.path = v;
    else if (!strcmp(a, "-c")) o.connections = atoi(v);
    else if (!strcmp(a, "-k")) o.inflight = atoi(v);
    else if (!strcmp(a, "-s")) o.size = atoi(v);
    else if (!strcmp(a, "-d")) o.seconds = atof(v);
    else if (!strcmp(a, "--subs")) o.subs = atoi(v);
    else if (!strcmp(a, "--window")) o.window = atoi(v);
    else usage();
    i++;
  }
  if (o.port <= 0 || o.size < 20 || o.connections < 1 || o.inflight < 1 || o.subs < 1 ||
      o.window < 1 || o.seconds <= 0)
    usage();
  init_filler((size_t)o.size);
  return run_client(&o);
}

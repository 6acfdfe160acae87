/* Drives LLVMFuzzerTestOneInput without libFuzzer, so the target also runs
 * under gcc with -fsanitize=address,undefined.
 *
 *   prog FILE...               run each file once
 *   prog [-runs=N] [-seed=S]   N inputs (default 200000) mutated from a small
 *                              built-in corpus by an xorshift PRNG
 *
 * Other "-flag" arguments are ignored, as a convenience for scripts written
 * for libFuzzer. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_INPUT 2048

static const char *const corpus[] = {
    "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
    "GET /a/b?x=1&y=2 HTTP/1.1\r\nHost: a:8080\r\nConnection: keep-alive, Upgrade\r\n"
    "Upgrade: websocket\r\nX-Obs: caf\xc3\xa9\r\n\r\n",
    "\r\nGET / HTTP/1.0\r\n\r\n",
    "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello",
    "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
    "5;ext=\"q\\\"v\"\r\nhello\r\n0\r\nTrailer: t\r\n\r\n",
    "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
    "GET http://example.com:80/x?y HTTP/1.1\r\nHost: example.com\r\n\r\n",
    "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
    "CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n\r\n",
    "GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n",
    "GET / HTTP/2.0\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 1\r\nContent-Length: 1\r\n\r\nx",
    "GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",
    "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
    "a ; n = v ; m=\"x\\\\y\"\r\n0123456789\r\n0\r\nA: b\r\nC:\r\n\r\n",
    "7fffffffffffffff\r\nabc",
    "1\r\nx\r\n0002\r\nyz\r\n0;a=b\r\n\r\n",
    "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
    "3;x\r\nabc\r\n00\r\nX-A: 1\r\nX-B: 2\r\n\r\nGET / HTTP/1.1\r\n",
};
#define NCORPUS (sizeof corpus / sizeof corpus[0])

static const char *const tokens[] = {
    "\r\n", "\r\n\r\n", " ", ":", ",", ";", "=", "\"", "\\", "Host: a\r\n", "Content-Length: ",
    "Transfer-Encoding: ", "chunked", "gzip", "Connection: ", "close", "Expect: ",
    "100-continue", "HTTP/1.1", "HTTP/1.0", "0\r\n\r\n", "ffffffffffffffff", "http://", "[::1]",
    "%41", "?", "#", "*", "CONNECT ", "OPTIONS ",
};
#define NTOKENS (sizeof tokens / sizeof tokens[0])

static const unsigned char bytes[] = {'\r', '\n', ' ', '\t', ':', ',', ';', '=', '"', '\\', '0',
                                      '9', 'a', 'F', 'x', '/', '?', '#', '[', ']', '%', '@', 0,
                                      0x01, 0x7f, 0x80, 0xff};

static uint64_t rng;

static uint64_t next(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

static size_t below(size_t n) { return n ? (size_t)(next() % n) : 0; }

/* Insert src[0..k) at buf[at], keeping the length within MAX_INPUT. */
static size_t insert(unsigned char *buf, size_t len, size_t at, const void *src, size_t k) {
  if (k > MAX_INPUT - len) k = MAX_INPUT - len;
  memmove(buf + at + k, buf + at, len - at);
  memcpy(buf + at, src, k);
  return len + k;
}

static size_t mutate(unsigned char *buf, size_t len) {
  /* mostly one mutation: several at once rarely leave anything parsable */
  size_t i, rounds = below(3) ? 1 : 2 + below(5);
  for (i = 0; i < rounds; i++) {
    size_t at = below(len + 1), k;
    switch (below(9)) {
    case 0: /* random byte */
      if (len) buf[below(len)] = (unsigned char)next();
      break;
    case 1: /* interesting byte */
      if (len) buf[below(len)] = bytes[below(sizeof bytes)];
      break;
    case 2:
      len = insert(buf, len, at, &bytes[below(sizeof bytes)], 1);
      break;
    case 3: /* delete a range */
      if (at < len) {
        k = 1 + below(len - at < 16 ? len - at : 16);
        memmove(buf + at, buf + at + k, len - at - k);
        len -= k;
      }
      break;
    case 4: /* duplicate a range */
      if (at < len) {
        unsigned char tmp[64];
        k = 1 + below(len - at < 64 ? len - at : 64);
        memcpy(tmp, buf + at, k);
        len = insert(buf, len, below(len + 1), tmp, k);
      }
      break;
    case 5: {
      const char *t = tokens[below(NTOKENS)];
      len = insert(buf, len, at, t, strlen(t));
      break;
    }
    case 6: { /* splice in a piece of another corpus entry */
      const char *c = corpus[below(NCORPUS)];
      size_t cl = strlen(c), from = below(cl);
      len = insert(buf, len, at, c + from, below(cl - from) + 1);
      break;
    }
    case 7: /* truncate, rarely: every prefix is checked by the target anyway */
      if (!below(8)) len = at;
      break;
    default: /* swap two bytes */
      if (len > 1) {
        size_t a = below(len), b = below(len);
        unsigned char t = buf[a];
        buf[a] = buf[b];
        buf[b] = t;
      }
      break;
    }
  }
  return len;
}

static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  unsigned char *buf = NULL;
  size_t len = 0, cap = 0, n;
  if (!f) {
    fprintf(stderr, "cannot open %s\n", path);
    return 1;
  }
  do {
    if (len == cap) {
      unsigned char *nb = realloc(buf, cap = cap ? cap * 2 : 4096);
      if (!nb) abort();
      buf = nb;
    }
    n = fread(buf + len, 1, cap - len, f);
    len += n;
  } while (n > 0);
  fclose(f);
  {
    /* exact-size copy so overreads are caught */
    unsigned char *exact = malloc(len ? len : 1);
    if (!exact) abort();
    if (len) memcpy(exact, buf, len);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
  }
  free(buf);
  printf("ran %s (%zu bytes)\n", path, len);
  return 0;
}

int main(int argc, char **argv) {
  unsigned long long runs = 200000, seed = 0x2545f4914f6cdd1dull, r;
  int i, files = 0, errors = 0;
  static unsigned char buf[MAX_INPUT];

  for (i = 1; i < argc; i++) {
    if (strncmp(argv[i], "-runs=", 6) == 0) runs = strtoull(argv[i] + 6, NULL, 10);
    else if (strncmp(argv[i], "-seed=", 6) == 0) seed = strtoull(argv[i] + 6, NULL, 10);
    else if (argv[i][0] != '-') files++;
  }
  if (files) {
    for (i = 1; i < argc; i++)
      if (argv[i][0] != '-') errors += run_file(argv[i]);
    return errors ? 1 : 0;
  }

  rng = seed ? seed : 1;
  for (r = 0; r < runs; r++) {
    unsigned char *exact;
    /* the corpus as is first, then mutants */
    const char *c = r < NCORPUS ? corpus[r] : corpus[below(NCORPUS)];
    size_t len = strlen(c);
    memcpy(buf, c, len);
    if (r >= NCORPUS) len = mutate(buf, len);
    exact = malloc(len ? len : 1);
    if (!exact) abort();
    memcpy(exact, buf, len);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
  }
  printf("standalone: %llu runs, seed %llu: no invariant violated\n", runs, seed);
  return 0;
}

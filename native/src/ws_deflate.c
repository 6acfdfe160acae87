/* permessage-deflate (RFC 7692): negotiation, per-message deflate and
 * bounded inflate with zlib.
 *
 * Negotiation reads the Sec-WebSocket-Extensions grammar of RFC 6455 §9.1
 * (extension *( ";" param [ "=" token / quoted-string ] ), comma-separated)
 * without allocating; a malformed element is skipped up to the next comma
 * outside a quoted string, so one bad offer cannot hide a later good one. */
#include "ws_deflate.h"

#include "ascii.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>

#include <zlib.h>

/* The allocator can be replaced at build time by defining all three macros
 * (the tests do, to make allocations fail on purpose). zlib allocates
 * through the same functions. */
#ifndef SK_PMD_MALLOC
#include <stdlib.h>
#define SK_PMD_MALLOC malloc
#define SK_PMD_REALLOC realloc
#define SK_PMD_FREE free
#endif

#define INFLATE_STEP 16384u /* first output allocation of an inflate */
#define ZCHUNK (1u << 30)   /* largest avail_in / avail_out handed to zlib */
static const unsigned char TAIL[4] = {0x00, 0x00, 0xff, 0xff};

/* ---- negotiation (§5, §7.1) ------------------------------------------- */

static int is_tchar(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static const char *skip_ows(const char *p, const char *end) {
  while (p < end && (*p == ' ' || *p == '\t')) p++;
  return p;
}

static const char *scan_token(const char *p, const char *end) {
  while (p < end && is_tchar((unsigned char)*p)) p++;
  return p;
}

static int ieq(const char *a, size_t n, const char *lit) {
  return sk_ascii_ieq(a, n, lit, strlen(lit));
}

/* Past the next comma that is not inside a quoted string. */
static const char *skip_element(const char *p, const char *end) {
  int quoted = 0;
  for (; p < end; p++) {
    if (quoted) {
      if (*p == '\\' && end - p > 1) p++;
      else if (*p == '"') quoted = 0;
    } else if (*p == '"') {
      quoted = 1;
    } else if (*p == ',') {
      return p + 1;
    }
  }
  return end;
}

/* §7.1.2.1: a window value is 1*DIGIT without leading zeros, 8 to 15, the
 * same after unquoting a quoted-string. v[0..n) is the raw value. */
static int window_value(const char *v, size_t n) {
  char buf[3];
  size_t i, k = 0;
  if (n >= 2 && v[0] == '"') {
    for (i = 1; i + 1 < n; i++) {
      if (v[i] == '\\') i++;
      if (k == sizeof(buf)) return 0;
      buf[k++] = v[i];
    }
  } else {
    if (n > sizeof(buf)) return 0;
    memcpy(buf, v, n);
    k = n;
  }
  if (k == 1 && buf[0] >= '8' && buf[0] <= '9') return buf[0] - '0';
  if (k == 2 && buf[0] == '1' && buf[1] >= '0' && buf[1] <= '5') return 10 + (buf[1] - '0');
  return 0;
}

typedef struct offer {
  int is_pmd, valid;
  unsigned seen;    /* parameters met so far, to refuse duplicates */
  int snct, cnct;   /* server_/client_no_context_takeover */
  int smwb;         /* server_max_window_bits value, 0: absent */
  int cmwb_present; /* client_max_window_bits, possibly without value */
  int cmwb;         /* its value, 0: none */
} offer_t;

static void apply_param(offer_t *o, const char *name, size_t nlen, const char *val, size_t vlen,
                        int has_value) {
  static const char *const names[] = {"server_no_context_takeover", "client_no_context_takeover",
                                      "server_max_window_bits", "client_max_window_bits"};
  unsigned i;
  for (i = 0; i < 4 && !ieq(name, nlen, names[i]); i++) {
  }
  /* §5: unknown parameters, duplicates and bad values make the offer invalid. */
  if (i == 4 || (o->seen & (1u << i))) {
    o->valid = 0;
    return;
  }
  o->seen |= 1u << i;
  switch (i) {
  case 0:
  case 1:
    if (has_value) o->valid = 0;
    if (i == 0) o->snct = 1;
    else o->cnct = 1;
    break;
  case 2: /* §7.1.2.1: the offer must carry a value */
    if (!has_value || (o->smwb = window_value(val, vlen)) == 0) o->valid = 0;
    break;
  default: /* §7.1.2.2: the value is optional */
    o->cmwb_present = 1;
    if (has_value && (o->cmwb = window_value(val, vlen)) == 0) o->valid = 0;
    break;
  }
}

/* Parse one list element from *pos, leaving *pos past its comma. */
static void parse_element(const char **pos, const char *end, offer_t *o) {
  const char *p = skip_ows(*pos, end), *name, *val = NULL;
  size_t nlen, vlen = 0;
  int has_value;

  memset(o, 0, sizeof(*o));
  o->valid = 1;
  if (p < end && *p == ',') { /* empty elements are allowed in a #list */
    *pos = p + 1;
    return;
  }
  name = p;
  p = scan_token(p, end);
  if (p == name) goto syntax;
  o->is_pmd = ieq(name, (size_t)(p - name), "permessage-deflate");
  for (;;) {
    p = skip_ows(p, end);
    if (p == end || *p == ',') {
      *pos = p < end ? p + 1 : p;
      return;
    }
    if (*p != ';') goto syntax;
    p = skip_ows(p + 1, end);
    name = p;
    p = scan_token(p, end);
    if (p == name) goto syntax;
    nlen = (size_t)(p - name);
    p = skip_ows(p, end);
    has_value = p < end && *p == '=';
    if (has_value) {
      p = skip_ows(p + 1, end);
      val = p;
      if (p < end && *p == '"') {
        for (p++; p < end && *p != '"'; p++)
          if (*p == '\\' && end - p > 1) p++;
        if (p == end) goto syntax;
        p++;
      } else {
        p = scan_token(p, end);
        if (p == val) goto syntax;
      }
      vlen = (size_t)(p - val);
    }
    if (o->is_pmd) apply_param(o, name, nlen, val, vlen, has_value);
  }
syntax:
  o->valid = 0;
  *pos = skip_element(p, end);
}

typedef struct out {
  char *p;
  size_t len, cap;
} out_t;

static void put(out_t *o, const char *s) {
  size_t n = strlen(s);
  if (n <= o->cap - o->len) {
    memcpy(o->p + o->len, s, n);
    o->len += n;
  }
}

static void put_bits(out_t *o, const char *name, int bits) {
  char num[4];
  num[0] = '=';
  num[1] = (char)(bits >= 10 ? '1' : '0' + bits);
  num[2] = (char)(bits >= 10 ? '0' + bits - 10 : '\0');
  num[3] = '\0';
  put(o, name);
  put(o, num);
}

/* Can we honour this valid offer? Fills params when so. */
static int accept_offer(const sk_pmd_config_t *cfg, const offer_t *o, sk_pmd_params_t *pm) {
  int sbits = cfg->compressor_bits, cbits;
  if (sbits < 9) sbits = 9;
  if (sbits > 15) sbits = 15;
  /* §7.1.2.1: we must not use a window above the client's limit. zlib has
   * no 8-bit raw deflate, and the shared compressor's window is fixed. */
  if (o->smwb && o->smwb < sbits) {
    if (o->smwb < 9 || cfg->shared_compressor) return 0;
    sbits = o->smwb;
  }
  /* §7.1.2.2: only an offer with client_max_window_bits lets us limit the
   * client's window; otherwise it may use 15 bits and so must we. */
  cbits = 15;
  if (o->cmwb_present) {
    int want = cfg->shared_decompressor ? 15 : cfg->decompressor_bits;
    if (want < 8) want = 8;
    if (want > 15) want = 15;
    cbits = o->cmwb && o->cmwb < want ? o->cmwb : want;
  }
  pm->server_no_context_takeover = o->snct || cfg->shared_compressor;
  pm->client_no_context_takeover = o->cnct || cfg->shared_decompressor;
  pm->server_window_bits = sbits;
  pm->client_window_bits = cbits;
  return 1;
}

int sk_pmd_negotiate(const sk_pmd_config_t *cfg, const char *header, size_t len,
                     sk_pmd_params_t *params, char *resp, size_t resp_cap, size_t *resp_len) {
  const char *pos = header, *end;
  offer_t o;
  sk_pmd_params_t pm;
  out_t out;

  *resp_len = 0;
  if (!cfg->enabled || header == NULL || resp_cap < SK_PMD_RESPONSE_MAX) return 0;
  end = header + len;
  while (pos < end) {
    parse_element(&pos, end, &o);
    if (!o.is_pmd || !o.valid || !accept_offer(cfg, &o, &pm)) continue;
    out.p = resp;
    out.len = 0;
    out.cap = resp_cap;
    put(&out, "permessage-deflate");
    /* §7.1.1.1: server_no_context_takeover in the offer must be echoed;
     * §7.1.1.2: client_no_context_takeover may always be sent. */
    if (pm.server_no_context_takeover) put(&out, "; server_no_context_takeover");
    if (pm.client_no_context_takeover) put(&out, "; client_no_context_takeover");
    /* §7.1.2.1: echo the client's limit (same or smaller), or tell a smaller
     * window of our own. */
    if (o.smwb || pm.server_window_bits < 15)
      put_bits(&out, "; server_max_window_bits", pm.server_window_bits);
    /* §7.1.2.2: only when offered, and only when it limits something. */
    if (o.cmwb_present && pm.client_window_bits < 15)
      put_bits(&out, "; client_max_window_bits", pm.client_window_bits);
    *params = pm;
    *resp_len = out.len;
    return 1;
  }
  return 0;
}

/* ---- buffers and zlib glue -------------------------------------------- */

void sk_pmd_buf_free(sk_pmd_buf_t *buf) {
  SK_PMD_FREE(buf->data);
  buf->data = NULL;
  buf->len = buf->cap = 0;
}

/* Grow to exactly new_cap (> cap). */
static int buf_grow_to(sk_pmd_buf_t *b, size_t new_cap) {
  char *p = SK_PMD_REALLOC(b->data, new_cap);
  if (p == NULL) return -1;
  b->data = p;
  b->cap = new_cap;
  return 0;
}

/* Zeroed, like zlib's own allocator: deflate may read window bytes it has
 * not written yet (harmless to the output, but not to memory checkers). */
static voidpf z_alloc(voidpf opaque, uInt items, uInt size) {
  void *p;
  (void)opaque;
  if (size != 0 && items > SIZE_MAX / size) return Z_NULL;
  p = SK_PMD_MALLOC((size_t)items * size);
  if (p != NULL) memset(p, 0, (size_t)items * size);
  return p;
}

static void z_free(voidpf opaque, voidpf p) {
  (void)opaque;
  SK_PMD_FREE(p);
}

static uInt clamp_uint(size_t n) {
  return n > ZCHUNK ? ZCHUNK : (uInt)n;
}

/* ---- deflate (§7.2.1) ------------------------------------------------- */

struct sk_pmd_deflater {
  z_stream zs;
  int no_context_takeover;
  int dirty; /* something was compressed since the last reset */
};

sk_pmd_deflater_t *sk_pmd_deflater_create(int level, int window_bits, int mem_level,
                                          int no_context_takeover) {
  sk_pmd_deflater_t *d;
  if (level < -1 || level > 9 || window_bits < 9 || window_bits > 15 || mem_level < 1 ||
      mem_level > 9)
    return NULL;
  d = SK_PMD_MALLOC(sizeof(*d));
  if (d == NULL) return NULL;
  memset(d, 0, sizeof(*d));
  d->zs.zalloc = z_alloc;
  d->zs.zfree = z_free;
  d->no_context_takeover = no_context_takeover != 0;
  /* Negative windowBits: raw DEFLATE, no zlib header (§7.2.1). */
  if (deflateInit2(&d->zs, level, Z_DEFLATED, -window_bits, mem_level, Z_DEFAULT_STRATEGY) !=
      Z_OK) {
    SK_PMD_FREE(d);
    return NULL;
  }
  return d;
}

void sk_pmd_deflater_destroy(sk_pmd_deflater_t *d) {
  if (d == NULL) return;
  deflateEnd(&d->zs);
  SK_PMD_FREE(d);
}

void sk_pmd_deflater_reset(sk_pmd_deflater_t *d) {
  deflateReset(&d->zs);
  d->dirty = 0;
}

int sk_pmd_deflate(sk_pmd_deflater_t *d, const char *in, size_t len, sk_pmd_buf_t *out) {
  static const unsigned char none[1] = {0}; /* in may be NULL when len is 0 */
  const unsigned char *p = len > 0 ? (const unsigned char *)in : none;
  size_t left = len, start = out->len;

  if (d->no_context_takeover && d->dirty) sk_pmd_deflater_reset(d);
  d->dirty = 1;
  for (;;) {
    uInt chunk = clamp_uint(left);
    int flush = chunk == left ? Z_SYNC_FLUSH : Z_NO_FLUSH;
    d->zs.next_in = (Bytef *)(uintptr_t)p; /* zlib's API is not const */
    d->zs.avail_in = chunk;
    do {
      uInt room;
      if (out->cap - out->len < 64) {
        size_t want = out->cap + (out->cap > len / 2 + 256 ? out->cap : len / 2 + 256);
        if (want < out->cap || buf_grow_to(out, want) != 0) goto nomem;
      }
      room = clamp_uint(out->cap - out->len);
      d->zs.next_out = (Bytef *)out->data + out->len;
      d->zs.avail_out = room;
      /* Z_BUF_ERROR only means "no progress possible" (an empty message
       * right after a flush); Z_STREAM_ERROR is a broken stream. */
      if (deflate(&d->zs, flush) == Z_STREAM_ERROR) goto nomem;
      out->len += room - d->zs.avail_out;
    } while (d->zs.avail_in > 0 || (flush == Z_SYNC_FLUSH && d->zs.avail_out == 0));
    p += chunk;
    left -= chunk;
    if (flush == Z_SYNC_FLUSH) break;
  }
  /* A sync flush ends with an empty stored block, 00 00 ff ff: drop it.
   * Nothing at all comes out for an empty message right after a flush
   * (zlib refuses a second flush): send the byte 00 then, the header of an
   * empty stored block that the receiver's 00 00 ff ff completes. An empty
   * payload would leave that header to the tail and desynchronise the
   * peer's stream (§7.2.3.6). */
  if (out->len == start) {
    if (out->cap == out->len && buf_grow_to(out, out->cap + 64) != 0) goto nomem;
    out->data[out->len++] = 0;
    return SK_PMD_OK;
  }
  if (out->len - start < 4 || memcmp(out->data + out->len - 4, TAIL, 4) != 0) goto nomem;
  out->len -= 4;
  return SK_PMD_OK;
nomem:
  out->len = start;
  sk_pmd_deflater_reset(d);
  return SK_PMD_ERR_NOMEM;
}

/* ---- inflate (§7.2.2) ------------------------------------------------- */

struct sk_pmd_inflater {
  z_stream zs;
  int no_context_takeover;
  int in_message;
  int got_data;    /* the current message had compressed bytes */
  int needs_reset; /* the last message failed */
};

sk_pmd_inflater_t *sk_pmd_inflater_create(int window_bits, int no_context_takeover) {
  sk_pmd_inflater_t *inf;
  if (window_bits < 8 || window_bits > 15) return NULL;
  if (window_bits == 8) window_bits = 9;
  inf = SK_PMD_MALLOC(sizeof(*inf));
  if (inf == NULL) return NULL;
  memset(inf, 0, sizeof(*inf));
  inf->zs.zalloc = z_alloc;
  inf->zs.zfree = z_free;
  inf->no_context_takeover = no_context_takeover != 0;
  if (inflateInit2(&inf->zs, -window_bits) != Z_OK) {
    SK_PMD_FREE(inf);
    return NULL;
  }
  return inf;
}

void sk_pmd_inflater_destroy(sk_pmd_inflater_t *inf) {
  if (inf == NULL) return;
  inflateEnd(&inf->zs);
  SK_PMD_FREE(inf);
}

/* Inflate in[0..len) into out, never letting out grow past limit bytes
 * (max_payload + 1: one byte over is how "too big" is detected). */
static int inflate_some(sk_pmd_inflater_t *inf, const unsigned char *in, size_t len,
                        sk_pmd_buf_t *out, size_t max_payload, size_t limit) {
  z_stream *zs = &inf->zs;
  if (len == 0) return SK_PMD_OK;
  for (;;) {
    uInt chunk = clamp_uint(len);
    zs->next_in = (Bytef *)(uintptr_t)in;
    zs->avail_in = chunk;
    for (;;) {
      uInt room;
      int rc;
      if (out->len == out->cap || out->len == limit) {
        size_t want = out->cap < INFLATE_STEP ? INFLATE_STEP : out->cap * 2;
        if (want > limit || want < out->cap) want = limit;
        if (want <= out->cap) return SK_PMD_ERR_TOO_BIG; /* cap == limit: full */
        if (buf_grow_to(out, want) != 0) return SK_PMD_ERR_NOMEM;
      }
      /* A buffer kept from a bigger message still gets no more than limit. */
      room = clamp_uint((out->cap < limit ? out->cap : limit) - out->len);
      zs->next_out = (Bytef *)out->data + out->len;
      zs->avail_out = room;
      rc = inflate(zs, Z_SYNC_FLUSH);
      out->len += room - zs->avail_out;
      if (out->len > max_payload) return SK_PMD_ERR_TOO_BIG;
      if (rc == Z_STREAM_END) {
        /* §7.2.3.5: a block with BFINAL set ends the DEFLATE stream; what
         * follows (at least our tail) starts a new one. */
        if (inflateReset(zs) != Z_OK) return SK_PMD_ERR_NOMEM;
      } else if (rc == Z_MEM_ERROR) {
        return SK_PMD_ERR_NOMEM;
      } else if (rc == Z_BUF_ERROR && zs->avail_in > 0 && zs->avail_out > 0) {
        return SK_PMD_ERR_CORRUPT; /* no progress with input and room: never loop */
      } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
        return SK_PMD_ERR_CORRUPT; /* Z_DATA_ERROR, Z_NEED_DICT, Z_STREAM_ERROR */
      }
      /* Done with this chunk once it is consumed and inflate left room
       * (so no output is pending). */
      if (zs->avail_in == 0 && zs->avail_out > 0) break;
    }
    in += chunk;
    len -= chunk;
    if (len == 0) return SK_PMD_OK;
  }
}

int sk_pmd_inflate(sk_pmd_inflater_t *inf, const char *in, size_t len, int final, sk_pmd_buf_t *out,
                   size_t max_payload) {
  size_t limit = max_payload < SIZE_MAX ? max_payload + 1 : SIZE_MAX;
  int rc;

  if (!inf->in_message) {
    if ((inf->no_context_takeover || inf->needs_reset) && inflateReset(&inf->zs) != Z_OK) {
      inf->needs_reset = 1;
      return SK_PMD_ERR_NOMEM;
    }
    inf->needs_reset = 0;
    inf->in_message = 1;
    inf->got_data = 0;
  }
  if (len > 0) inf->got_data = 1;
  if (out->len > max_payload) {
    rc = SK_PMD_ERR_TOO_BIG;
  } else {
    rc = inflate_some(inf, (const unsigned char *)in, len, out, max_payload, limit);
    /* §7.2.2: the sender stripped 00 00 ff ff from the flushed message.
     * An empty payload is an empty message: the tail alone would open a
     * stored block that the next message could not continue. */
    if (rc == SK_PMD_OK && final && inf->got_data)
      rc = inflate_some(inf, TAIL, 4, out, max_payload, limit);
  }
  if (rc != SK_PMD_OK) {
    inf->needs_reset = 1;
    inf->in_message = 0;
  } else if (final) {
    inf->in_message = 0;
  }
  return rc;
}

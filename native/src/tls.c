/* TLS over the same sockets, with the system OpenSSL: contexts built from
 * AppOptions (certificate chain, key with passphrase, DH parameters, client
 * CA, ciphers), TLS 1.2 and 1.3 only, ALPN http/1.1, SNI, and the transport
 * functions every connection reads and writes through (plain or TLS). */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

/* ---- contexts ---- */

static void set_error(char *err, size_t cap, const char *what, const char *file) {
  if (!err || cap == 0) return;
  unsigned long code = ERR_peek_last_error();
  char reason[256] = "";
  if (code) ERR_error_string_n(code, reason, sizeof reason);
  ERR_clear_error();
  if (file) snprintf(err, cap, "%s '%s'%s%s", what, file, reason[0] ? ": " : "", reason);
  else snprintf(err, cap, "%s%s%s", what, reason[0] ? ": " : "", reason);
}

static int passphrase_cb(char *buf, int size, int rwflag, void *userdata) {
  (void)rwflag;
  const char *pass = userdata;
  if (!pass || size <= 0) return 0;
  size_t len = strlen(pass);
  if (len > (size_t)size) len = (size_t)size;
  memcpy(buf, pass, len);
  return (int)len;
}

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg) {
  (void)ssl;
  (void)arg;
  static const unsigned char http11[] = "\x08http/1.1";
  /* Only HTTP/1.1 is spoken here: accept it if offered, else go without ALPN. */
  if (SSL_select_next_proto((unsigned char **)out, outlen, http11, sizeof http11 - 1, in, inlen) ==
      OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_OK;
  return SSL_TLSEXT_ERR_NOACK;
}

static int file_readable(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return 0;
  fclose(f);
  return 1;
}

/* "cannot read the X file 'path': No such file or directory" */
static int check_readable(const char *path, const char *what, char *err, size_t cap) {
  if (file_readable(path)) return 1;
  int error = errno;
  ERR_clear_error();
  if (err && cap) snprintf(err, cap, "cannot read the %s '%s': %s", what, path, strerror(error));
  return 0;
}

/* Whether a PEM file holds an encrypted private key (PKCS#8 or the older
 * Proc-Type header): tells a wrong or missing passphrase from a bad file. */
static int pem_key_is_encrypted(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return 0;
  char line[256];
  int encrypted = 0;
  while (!encrypted && fgets(line, sizeof line, f)) encrypted = strstr(line, "ENCRYPTED") != NULL;
  fclose(f);
  return encrypted;
}

/* The private key, with a message that names the actual problem. */
static int load_private_key(SSL_CTX *ctx, const char *key, const char *passphrase, char *err,
                            size_t cap) {
  if (!check_readable(key, "private key file", err, cap)) return 0;
  BIO *bio = BIO_new_file(key, "r");
  EVP_PKEY *pkey =
      bio ? PEM_read_bio_PrivateKey(bio, NULL, passphrase_cb, (void *)passphrase) : NULL;
  if (bio) BIO_free(bio);
  if (!pkey) {
    if (!pem_key_is_encrypted(key))
      set_error(err, cap, "cannot load the private key (not a PEM private key)", key);
    else if (passphrase)
      set_error(err, cap, "cannot decrypt the private key: wrong passphrase", key);
    else set_error(err, cap, "the private key is encrypted and no passphrase was given", key);
    return 0;
  }
  int ok = SSL_CTX_use_PrivateKey(ctx, pkey) == 1 && SSL_CTX_check_private_key(ctx) == 1;
  EVP_PKEY_free(pkey);
  if (!ok) set_error(err, cap, "the private key does not match the certificate", key);
  return ok;
}

SSL_CTX *sk_tls_context_create(const sk_tls_options_t *options, char *err, size_t cap) {
  ERR_clear_error();
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) {
    set_error(err, cap, "cannot create a TLS context", NULL);
    return NULL;
  }
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                               SSL_OP_NO_RENEGOTIATION);
  /* Partial writes and a moving buffer: the unsent rest of a write waits in
   * the connection backlog and is retried from there. Record buffers are
   * released while a connection is idle, whatever ssl_prefer_low_memory_usage
   * says: holding ~34 KB per idle keep-alive connection costs more than it
   * saves (measured: lower RSS, no throughput change). */
  long mode = SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
              SSL_MODE_RELEASE_BUFFERS;
  SSL_CTX_set_mode(ctx, mode);
  SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
  /* Read whatever the socket has in one recv, not a record header and then
   * its body in two. */
  SSL_CTX_set_read_ahead(ctx, 1);
  if (options->passphrase) {
    SSL_CTX_set_default_passwd_cb(ctx, passphrase_cb);
    SSL_CTX_set_default_passwd_cb_userdata(ctx, (void *)options->passphrase);
  }
  const char *cert = options->cert_file_name, *key = options->key_file_name;
  /* One without the other could never complete a handshake: say so now
   * rather than fail every connection later. */
  if (cert && !key) {
    set_error(err, cap,
              "cert_file_name is set but key_file_name is not: a certificate needs its "
              "private key",
              NULL);
    goto fail;
  }
  if (key && !cert) {
    set_error(err, cap,
              "key_file_name is set but cert_file_name is not: a private key needs its "
              "certificate",
              NULL);
    goto fail;
  }
  if (cert && !check_readable(cert, "certificate file", err, cap)) goto fail;
  if (cert && SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
    set_error(err, cap, "cannot load the certificate (not a PEM certificate)", cert);
    goto fail;
  }
  if (key && !load_private_key(ctx, key, options->passphrase, err, cap)) goto fail;
  /* The passphrase is only needed while loading: do not keep a pointer to
   * memory the caller may free. */
  SSL_CTX_set_default_passwd_cb_userdata(ctx, NULL);
  if (options->dh_params_file_name) {
    BIO *bio = BIO_new_file(options->dh_params_file_name, "r");
    EVP_PKEY *dh = bio ? PEM_read_bio_Parameters(bio, NULL) : NULL;
    if (bio) BIO_free(bio);
    if (!dh || SSL_CTX_set0_tmp_dh_pkey(ctx, dh) != 1) {
      if (dh) EVP_PKEY_free(dh);
      set_error(err, cap, "cannot load the DH parameters", options->dh_params_file_name);
      goto fail;
    }
  } else {
    SSL_CTX_set_dh_auto(ctx, 1);
  }
  if (options->ca_file_name) {
    if (!file_readable(options->ca_file_name) ||
        SSL_CTX_load_verify_locations(ctx, options->ca_file_name, NULL) != 1) {
      set_error(err, cap, "cannot load the CA file", options->ca_file_name);
      goto fail;
    }
    /* Mutual TLS: a client without a certificate the CA signed is refused
     * at the handshake. */
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
  }
  if (options->ssl_ciphers && SSL_CTX_set_cipher_list(ctx, options->ssl_ciphers) != 1) {
    set_error(err, cap, "invalid ssl_ciphers", options->ssl_ciphers);
    goto fail;
  }
  return ctx;
fail:
  SSL_CTX_free(ctx);
  return NULL;
}

void sk_tls_context_free(SSL_CTX *ctx) {
  if (ctx) SSL_CTX_free(ctx);
}

/* ---- per-connection transport ---- */

int sk_tls_attach(sk_transport_t *t, SSL_CTX *ctx, void *owner) {
  SSL *ssl = SSL_new(ctx);
  if (!ssl) return SK_ERR_NOMEM;
  if (SSL_set_fd(ssl, t->watch.fd) != 1) {
    SSL_free(ssl);
    return SK_ERR_SYSTEM;
  }
  SSL_set_app_data(ssl, owner);
  SSL_set_accept_state(ssl);
  t->ssl = ssl;
  return SK_OK;
}

void sk_tls_detach(sk_transport_t *t) {
  if (t->ssl) {
    SSL_free(t->ssl);
    t->ssl = NULL;
  }
  ERR_clear_error();
}

/* Maps an SSL_* failure: 0 for "try again later" (with the event to wait
 * for recorded), -1 for a dead connection. */
static long tls_retry_or_fail(sk_transport_t *t, int result, int reading) {
  int code = SSL_get_error(t->ssl, result);
  if (code == SSL_ERROR_WANT_READ) {
    if (!reading) t->tls_write_wants_read = 1;
    return 0;
  }
  if (code == SSL_ERROR_WANT_WRITE) {
    if (reading) t->tls_read_wants_write = 1;
    return 0;
  }
  ERR_clear_error();
  return -1;
}

long sk_transport_read(sk_transport_t *t, char *buf, size_t cap, int *eof) {
  if (!t->ssl) return sk_socket_read(t->watch.fd, buf, cap, eof);
  *eof = 0;
  t->tls_read_wants_write = 0;
  size_t total = 0;
  /* Drain every decrypted byte OpenSSL holds: the socket may no longer be
   * readable while whole records sit in OpenSSL's buffer. */
  while (total < cap) {
    int want = cap - total > INT32_MAX ? INT32_MAX : (int)(cap - total);
    int n = SSL_read(t->ssl, buf + total, want);
    if (n > 0) {
      total += (size_t)n;
      /* Only bytes OpenSSL already holds are worth another call now; the
       * socket itself will wake us again (level-triggered) if it has more. */
      if (!SSL_has_pending(t->ssl)) break;
      continue;
    }
    int code = SSL_get_error(t->ssl, n);
    if (code == SSL_ERROR_ZERO_RETURN) {
      *eof = 1; /* close_notify */
      break;
    }
    if (code == SSL_ERROR_SYSCALL && n == 0 && ERR_peek_error() == 0) {
      *eof = 1; /* TCP EOF without close_notify: treat as a close */
      break;
    }
    long r = tls_retry_or_fail(t, n, 1);
    if (r < 0 && total == 0) return -1;
    break;
  }
  return (long)total;
}

static long tls_write(sk_transport_t *t, const char *data, size_t len) {
  size_t total = 0;
  t->tls_write_wants_read = 0;
  while (total < len) {
    int chunk = len - total > INT32_MAX ? INT32_MAX : (int)(len - total);
    int n = SSL_write(t->ssl, data + total, chunk);
    if (n > 0) {
      total += (size_t)n;
      continue;
    }
    if (tls_retry_or_fail(t, n, 0) < 0) return total ? (long)total : -1;
    break;
  }
  return (long)total;
}

long sk_transport_write(sk_transport_t *t, const char *a, size_t a_len, const char *b,
                        size_t b_len) {
  if (!t->ssl) {
    return b_len ? sk_socket_write2(t->watch.fd, a, a_len, b, b_len)
                 : sk_socket_write(t->watch.fd, a, a_len);
  }
  long n = tls_write(t, a, a_len);
  if (n < 0 || (size_t)n < a_len || b_len == 0) return n;
  long m = tls_write(t, b, b_len);
  if (m < 0) return n; /* the first part went out; the failure shows next time */
  return n + m;
}

void sk_transport_shutdown_write(sk_transport_t *t) {
  if (t->ssl && SSL_is_init_finished(t->ssl)) {
    /* close_notify first, so the client can tell a complete response from a
     * truncation attack (RFC 8446 6.1). */
    SSL_shutdown(t->ssl);
    ERR_clear_error();
  }
  shutdown(t->watch.fd, SHUT_WR);
}

/* Thin wrappers over the socket calls: listen, accept, read, write. */

#include "internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0 /* macOS: SO_NOSIGPIPE is set per socket instead */
#endif

#define SK_LISTEN_BACKLOG 512

static int set_nonblocking_cloexec(int fd) {
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) return -1;
  return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

/* Closes a socket after a failed call and answers -1, keeping that call's
 * errno for the caller. */
static int close_failed(int fd) {
  int saved = errno;
  close(fd);
  errno = saved;
  return -1;
}

/* The last steps of every listener: bind, listen, non-blocking; the socket,
 * or -1 (closed) with errno set. */
static int bound_listener(int fd, const struct sockaddr *addr, socklen_t addr_len) {
  if (bind(fd, addr, addr_len) < 0 || listen(fd, SK_LISTEN_BACKLOG) < 0 ||
      set_nonblocking_cloexec(fd) < 0)
    return close_failed(fd);
  return fd;
}

static void set_no_sigpipe(int fd) {
#ifdef SO_NOSIGPIPE
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#else
  (void)fd;
#endif
}

/* Whether a socket already listens on this address: a bind without
 * SO_REUSEPORT fails there with EADDRINUSE (SO_REUSEADDR keeps connections
 * left in TIME_WAIT out of it). */
static int already_listening(const struct addrinfo *ai) {
  int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
  if (fd < 0) return 0;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (ai->ai_family == AF_INET6) {
    int zero = 0; /* as the real socket: an IPv4 listener on the port counts */
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  }
  int in_use = bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno == EADDRINUSE;
  close(fd);
  return in_use;
}

static int bind_and_listen(const struct addrinfo *ai, int options, int *shared) {
  if (shared) *shared = already_listening(ai);
  int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
#ifdef SO_REUSEPORT
  /* Default on, as workers share one port; EXCLUSIVE_PORT turns it off. */
  if (!(options & SK_LISTEN_EXCLUSIVE_PORT))
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
#endif
  if (ai->ai_family == AF_INET6) {
    int zero = 0; /* dual-stack: "::" also takes IPv4 clients */
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  }
  return bound_listener(fd, ai->ai_addr, ai->ai_addrlen);
}

static int local_port(int fd) {
  struct sockaddr_storage addr;
  socklen_t len = sizeof addr;
  if (getsockname(fd, (struct sockaddr *)&addr, &len) < 0) return -1;
  if (addr.ss_family == AF_INET) return ntohs(((struct sockaddr_in *)&addr)->sin_port);
  if (addr.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6 *)&addr)->sin6_port);
  return -1;
}

int sk_socket_listen_tcp(const char *host, int port, int options, int *bound_port, int *shared) {
  if (port < 0 || port > 65535) {
    errno = EINVAL;
    return -1;
  }
  /* Only a fixed port shared by default can meet another server unawares. */
  if (port == 0 || (options & (SK_LISTEN_EXCLUSIVE_PORT | SK_LISTEN_REUSE_PORT))) shared = NULL;
  struct addrinfo hints = {0}, *result = NULL;
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  char port_text[8];
  snprintf(port_text, sizeof port_text, "%d", port);
  int fd = -1;
  if (host == NULL || host[0] == '\0') {
    /* All interfaces: prefer the IPv6 wildcard (dual-stack), fall back to IPv4
     * on hosts without IPv6. */
    hints.ai_family = AF_INET6;
    if (getaddrinfo(NULL, port_text, &hints, &result) == 0) {
      fd = bind_and_listen(result, options, shared);
      freeaddrinfo(result);
      result = NULL;
    }
    if (fd >= 0) goto done;
    hints.ai_family = AF_INET;
    host = NULL;
  }
  if (getaddrinfo(host, port_text, &hints, &result) != 0) {
    errno = EADDRNOTAVAIL;
    return -1;
  }
  for (struct addrinfo *ai = result; ai && fd < 0; ai = ai->ai_next)
    fd = bind_and_listen(ai, options, shared);
  freeaddrinfo(result);
  if (fd < 0) return -1;
done:
  if (bound_port) *bound_port = local_port(fd);
  return fd;
}

int sk_socket_listen_unix(const char *path, int options) {
  (void)options;
  struct sockaddr_un addr = {0};
  size_t path_len = strlen(path);
  if (path_len == 0 || path_len >= sizeof addr.sun_path) {
    errno = ENAMETOOLONG;
    return -1;
  }
  addr.sun_family = AF_UNIX;
  memcpy(addr.sun_path, path, path_len + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  /* A socket file left by a dead server would make bind fail with EADDRINUSE;
   * remove it only if it really is a socket nobody answers on. */
  struct stat st;
  if (stat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
    int probe = socket(AF_UNIX, SOCK_STREAM, 0);
    if (probe >= 0) {
      if (connect(probe, (struct sockaddr *)&addr, sizeof addr) < 0 && errno == ECONNREFUSED)
        unlink(path);
      close(probe);
    }
  }
  return bound_listener(fd, (struct sockaddr *)&addr, sizeof addr);
}

/* A socket some other process bound and put in the listening state (a
 * supervisor sharing one UNIX socket with its workers): a non-blocking,
 * close-on-exec duplicate that the caller owns; the original stays open. */
int sk_socket_adopt_listener(int fd) {
  int type = 0, listening = 0;
  socklen_t len = sizeof type;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0) return -1;
#ifdef SO_ACCEPTCONN
  len = sizeof listening;
  if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0) return -1;
#else
  listening = 1;
#endif
  if (type != SOCK_STREAM || !listening) {
    errno = EINVAL;
    return -1;
  }
  int copy = dup(fd);
  if (copy < 0) return -1;
  if (set_nonblocking_cloexec(copy) < 0) return close_failed(copy);
  return copy;
}

int sk_socket_has_input(int fd) {
  char byte;
  return recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

int sk_socket_accept(int listen_fd, struct sockaddr_storage *addr, socklen_t *addr_len) {
  *addr_len = sizeof *addr;
#ifdef __linux__
  int fd = accept4(listen_fd, (struct sockaddr *)addr, addr_len, SOCK_NONBLOCK | SOCK_CLOEXEC);
#else
  int fd = accept(listen_fd, (struct sockaddr *)addr, addr_len);
  if (fd >= 0 && set_nonblocking_cloexec(fd) < 0) {
    close(fd);
    return -1;
  }
#endif
  if (fd < 0) return -1;
  set_no_sigpipe(fd);
  if (addr->ss_family == AF_INET || addr->ss_family == AF_INET6) {
    /* Responses are corked into one write; Nagle would only delay them. */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  return fd;
}

long sk_socket_read(int fd, char *buf, size_t cap, int *eof) {
  *eof = 0;
  for (;;) {
    ssize_t n = recv(fd, buf, cap, 0);
    if (n > 0) return (long)n;
    if (n == 0) {
      *eof = 1;
      return 0;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    return -1;
  }
}

long sk_socket_write(int fd, const char *data, size_t len) {
  for (;;) {
    ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
    if (n >= 0) return (long)n;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    return -1;
  }
}

long sk_socket_write2(int fd, const char *a, size_t a_len, const char *b, size_t b_len) {
  struct iovec iov[2] = {{(void *)a, a_len}, {(void *)b, b_len}};
  struct msghdr msg = {0};
  msg.msg_iov = iov;
  msg.msg_iovlen = 2;
  for (;;) {
    ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL);
    if (n >= 0) return (long)n;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    return -1;
  }
}

void sk_socket_close(int fd) {
  if (fd >= 0) close(fd);
}

int sk_socket_format_address(const struct sockaddr_storage *addr, char *out, size_t cap,
                             int as_text) {
  const void *raw = NULL;
  size_t raw_len = 0;
  if (addr->ss_family == AF_INET) {
    raw = &((const struct sockaddr_in *)addr)->sin_addr;
    raw_len = 4;
  } else if (addr->ss_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)addr;
    raw = &in6->sin6_addr;
    raw_len = 16;
    /* An IPv4 client on a dual-stack socket shows as ::ffff:a.b.c.d; users
     * expect the plain IPv4 address. */
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
      raw = (const char *)&in6->sin6_addr + 12;
      raw_len = 4;
    }
  } else {
    return 0;
  }
  if (!as_text) {
    if (cap < raw_len) return SK_ERR_INVALID;
    memcpy(out, raw, raw_len);
    return (int)raw_len;
  }
  if (!inet_ntop(raw_len == 4 ? AF_INET : AF_INET6, raw, out, (socklen_t)cap))
    return SK_ERR_INVALID;
  return (int)strlen(out);
}

int sk_socket_port(const struct sockaddr_storage *addr) {
  if (addr->ss_family == AF_INET) return ntohs(((const struct sockaddr_in *)addr)->sin_port);
  if (addr->ss_family == AF_INET6) return ntohs(((const struct sockaddr_in6 *)addr)->sin6_port);
  return -1;
}

void sk_socket_address_from_raw(struct sockaddr_storage *addr, const void *raw, size_t raw_len) {
  memset(addr, 0, sizeof *addr);
  if (raw_len == 4) {
    struct sockaddr_in *in = (struct sockaddr_in *)addr;
    in->sin_family = AF_INET;
    memcpy(&in->sin_addr, raw, 4);
  } else {
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)addr;
    in6->sin6_family = AF_INET6;
    memcpy(&in6->sin6_addr, raw, 16);
  }
}

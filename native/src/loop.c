/* The event loop: one backend fd (epoll or kqueue) that an outer loop such
 * as asyncio can watch, a one-second tick for timeouts, and a wake-up fd so
 * work queued from outside a dispatch gets its own iteration. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

static void on_wake_event(sk_watch_t *watch, unsigned events) {
  (void)events;
  sk_loop_t *loop = (sk_loop_t *)((char *)watch - offsetof(sk_loop_t, wake_watch));
  char drain[64];
  while (read(loop->wake_read_fd, drain, sizeof drain) > 0) {
  }
  loop->wake_pending = 0;
  if (loop->on_wake) loop->on_wake(loop->ctx);
}

static int set_nonblocking_cloexec(int fd) {
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) return -1;
  return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

static void on_outer_event(sk_watch_t *watch, unsigned events) {
  (void)events;
  sk_loop_t *loop = (sk_loop_t *)((char *)watch - offsetof(sk_loop_t, outer_watch));
  loop->outer_ready = 1;
}

int sk_loop_init(sk_loop_t *loop) {
  loop->backend_fd = -1;
  loop->outer_watch.fd = -1;
  loop->outer_watch.interest = 0;
  loop->outer_watch.on_event = on_outer_event;
  loop->outer_ready = 0;
  loop->before_block = NULL;
  loop->after_block = NULL;
  loop->tick_fd = -1;
  loop->wake_read_fd = -1;
  loop->wake_write_fd = -1;
  loop->wake_pending = 0;
  loop->tick_armed = 0;
  loop->now_ticks = 1;
  if (sk_backend_init(loop) != SK_OK) return SK_ERR_SYSTEM;

  /* A pipe works on every POSIX system; eventfd would save one fd on Linux. */
  int fds[2];
  if (pipe(fds) < 0) goto fail;
  loop->wake_read_fd = fds[0];
  loop->wake_write_fd = fds[1];
  if (set_nonblocking_cloexec(fds[0]) < 0 || set_nonblocking_cloexec(fds[1]) < 0) goto fail;
  loop->wake_watch.fd = fds[0];
  loop->wake_watch.interest = 0;
  loop->wake_watch.on_event = on_wake_event;
  if (sk_loop_add(loop, &loop->wake_watch, SK_EV_READ) != SK_OK) goto fail;
  return SK_OK;
fail:
  sk_loop_free(loop);
  return SK_ERR_SYSTEM;
}

void sk_loop_free(sk_loop_t *loop) {
  if (loop->wake_read_fd >= 0) close(loop->wake_read_fd);
  if (loop->wake_write_fd >= 0) close(loop->wake_write_fd);
  loop->wake_read_fd = loop->wake_write_fd = -1;
  sk_backend_free(loop);
}

int sk_loop_add(sk_loop_t *loop, sk_watch_t *watch, unsigned interest) {
  int status = sk_backend_ctl(loop, watch, 0, interest);
  if (status == SK_OK) watch->interest = interest;
  return status;
}

int sk_loop_modify(sk_loop_t *loop, sk_watch_t *watch, unsigned interest) {
  if (watch->interest == interest) return SK_OK;
  int status = sk_backend_ctl(loop, watch, watch->interest, interest);
  if (status == SK_OK) watch->interest = interest;
  return status;
}

void sk_loop_remove(sk_loop_t *loop, sk_watch_t *watch) {
  sk_backend_ctl(loop, watch, watch->interest, 0);
  watch->interest = 0;
}

int sk_loop_run_once(sk_loop_t *loop, int timeout_ms) {
  return sk_backend_wait(loop, timeout_ms);
}

void sk_loop_wake(sk_loop_t *loop) {
  if (loop->wake_pending) return;
  loop->wake_pending = 1;
  char byte = 1;
  /* EAGAIN means the pipe is full, which already makes the loop readable. */
  if (write(loop->wake_write_fd, &byte, 1) < 0 && errno != EAGAIN) loop->wake_pending = 0;
}

int sk_loop_watch_outer(sk_loop_t *loop, int fd) {
  if (loop->outer_watch.fd >= 0) sk_loop_remove(loop, &loop->outer_watch);
  loop->outer_watch.fd = fd;
  loop->outer_ready = 0;
  return fd < 0 ? SK_OK : sk_loop_add(loop, &loop->outer_watch, SK_EV_READ);
}

void sk_loop_set_tick(sk_loop_t *loop, int armed) {
  if (loop->tick_armed == armed) return;
  if (sk_backend_set_tick(loop, armed) == SK_OK) loop->tick_armed = armed;
}

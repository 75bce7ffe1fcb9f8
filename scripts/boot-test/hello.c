/*
 * Dynamic glibc program for scripts/boot-test-qemu.sh: threads (futex),
 * fork/exec/wait, pipes, epoll, eventfd, timerfd, signalfd, POSIX timers,
 * AF_UNIX and loopback AF_INET sockets, file locks, mmap, and the x87/SSE
 * state across exit (fpu__drop). Prints "hello-dyn: ok" when all pass.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <math.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int failures;
#define CHECK(cond)                                                   \
	do {                                                          \
		if (!(cond)) {                                        \
			printf("hello-dyn: FAIL %s:%d: %s\n", __FILE__, \
			       __LINE__, #cond);                      \
			failures++;                                   \
		}                                                     \
	} while (0)

static void *thread_fn(void *arg)
{
	volatile double x = *(double *)arg;
	*(double *)arg = sqrt(x) * 2.0;
	return arg;
}

int main(int argc, char **argv)
{
	int p[2], sv[2], efd, tfd, sfd, ep, ls, cs, as, fd;
	char buf[256];
	uint64_t v;
	double d = 16.0;
	pthread_t th;
	sigset_t mask;
	timer_t tid;
	struct itimerspec its = { .it_value = { 0, 1000000 } };
	struct epoll_event ev = { .events = EPOLLIN }, out;
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	struct ifreq ifr;
	pid_t pid;
	int st;

	if (argc > 1 && strcmp(argv[1], "child") == 0)
		return 42;

	printf("hello-dyn: pid %ld, %ld cpus online\n", (long)getpid(),
	       sysconf(_SC_NPROCESSORS_ONLN));

	CHECK(pthread_create(&th, NULL, thread_fn, &d) == 0);
	CHECK(pthread_join(th, NULL) == 0 && d == 8.0);

	CHECK(pipe(p) == 0 && write(p[1], "x", 1) == 1 && read(p[0], buf, 1) == 1);

	pid = fork();
	if (pid == 0) {
		execl("/proc/self/exe", "hello-dyn", "child", (char *)NULL);
		_exit(1);
	}
	CHECK(pid > 0 && waitpid(pid, &st, 0) == pid && WEXITSTATUS(st) == 42);

	efd = eventfd(0, 0);
	ep = epoll_create1(0);
	ev.data.fd = efd;
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev) == 0);
	v = 1;
	CHECK(write(efd, &v, 8) == 8);
	CHECK(epoll_wait(ep, &out, 1, 1000) == 1 && out.data.fd == efd);

	tfd = timerfd_create(CLOCK_MONOTONIC, 0);
	CHECK(timerfd_settime(tfd, 0, &its, NULL) == 0 && read(tfd, &v, 8) == 8);

	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR1);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, 0);
	CHECK(kill(getpid(), SIGUSR1) == 0);
	CHECK(read(sfd, buf, sizeof(buf)) > 0);

	struct sigevent sev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR1 };
	CHECK(timer_create(CLOCK_MONOTONIC, &sev, &tid) == 0);
	CHECK(timer_settime(tid, 0, &its, NULL) == 0 && read(sfd, buf, sizeof(buf)) > 0);

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	CHECK(write(sv[0], "hi", 2) == 2 && read(sv[1], buf, 2) == 2);

	/* Bring up lo, then a TCP round trip over 127.0.0.1. */
	ls = socket(AF_INET, SOCK_STREAM, 0);
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	ioctl(ls, SIOCGIFFLAGS, &ifr);
	ifr.ifr_flags |= IFF_UP;
	CHECK(ioctl(ls, SIOCSIFFLAGS, &ifr) == 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(bind(ls, (void *)&sa, sizeof(sa)) == 0 && listen(ls, 1) == 0);
	CHECK(getsockname(ls, (void *)&sa, &sl) == 0);
	cs = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(connect(cs, (void *)&sa, sizeof(sa)) == 0);
	as = accept(ls, NULL, NULL);
	CHECK(as >= 0 && write(cs, "tcp", 3) == 3 && read(as, buf, 3) == 3);

	CHECK(socket(AF_VSOCK, SOCK_STREAM, 0) >= 0);

	fd = open("/tmp/lock", O_CREAT | O_RDWR, 0600);
	CHECK(fd >= 0 && flock(fd, LOCK_EX) == 0);

	char *m = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(m != MAP_FAILED);
	memset(m, 1, 1 << 20);

	printf("hello-dyn: %s (%d failures)\n", failures ? "FAILED" : "ok", failures);
	return failures != 0;
}

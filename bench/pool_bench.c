/* SPDX-License-Identifier: MIT */
/*
 * Jobs from a warm pool of restored VMs (mvm_pool_* in mvm.h): restores
 * SNAPDIR into a pool of POOL VMs, then runs JOBS jobs of job.img one after
 * another, each from a VM the pool had ready. Prints per-job times and the
 * job rate; exits non-zero if any job's exit status differs from EXPECT.
 *
 *   pool_bench SNAPDIR job.img POOL JOBS EXPECT [ARGS...]
 *
 * Used by tests/e2e/snapshot.sh (statuses checked) and bench/snapshot.sh
 * (numbers recorded in docs/BENCHMARKS.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vmm/mvm.h"

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
	struct mvm_disk disk = {.mode = MVM_DISK_COW};
	struct mvm_config cfg = {.stdout_fd = STDOUT_FILENO,
				 .stderr_fd = STDERR_FILENO,
				 .console_fd = -1,
				 .cancel_fd = -1,
				 .stdin_fd = -1,
				 .timeout_sec = 300,
				 .output_limit = 1 << 20};
	struct mvm_pool *pool;
	char err[512];
	double t0, t_all;
	int pool_size, jobs, expect, i, bad = 0;

	if (argc < 6) {
		fprintf(stderr, "usage: pool_bench SNAPDIR job.img POOL JOBS "
				"EXPECT [ARGS...]\n");
		return 2;
	}
	disk.path = argv[2];
	pool_size = atoi(argv[3]);
	jobs = atoi(argv[4]);
	expect = atoi(argv[5]);
	cfg.disks = &disk;
	cfg.ndisks = 1;
	cfg.job_args = (const char *const *)&argv[6];
	cfg.njob_args = (size_t)(argc - 6);
	t0 = now_ms();
	if (mvm_pool_create(argv[1], (unsigned)pool_size, &pool, err,
			    sizeof(err)) < 0) {
		fprintf(stderr, "pool_bench: %s\n", err);
		return 1;
	}
	fprintf(stderr, "pool: first restore in %.2f ms\n", now_ms() - t0);
	/* Let the refill thread fill the pool before timing jobs. */
	for (i = 0; i < 2000 && mvm_pool_ready(pool) < (unsigned)pool_size; i++)
		usleep(1000);
	t_all = now_ms();
	for (i = 0; i < jobs; i++) {
		struct mvm_result res;
		struct mvm_vm *vm;
		double t_take = now_ms(), t_run;
		unsigned ready = mvm_pool_ready(pool);

		if (mvm_pool_take(pool, &cfg, &vm, err, sizeof(err)) < 0) {
			fprintf(stderr, "pool_bench: job %d: %s\n", i, err);
			bad++;
			continue;
		}
		t_run = now_ms();
		if (mvm_vm_run(vm, &res) < 0 || res.outcome != MVM_JOB_EXITED ||
		    res.status != expect) {
			fprintf(stderr, "pool_bench: job %d: %s (status %d)\n",
				i, res.detail, res.status);
			bad++;
		}
		mvm_vm_destroy(vm);
		fprintf(stderr,
			"job %d: ready %u, take %.2f ms, to init %.1f ms, run "
			"%.1f ms\n",
			i, ready, t_run - t_take, res.stats.ms_to_boot_marker,
			now_ms() - t_run);
	}
	t_all = now_ms() - t_all;
	fprintf(stderr, "pool: %d jobs in %.1f ms: %.2f jobs/s\n", jobs, t_all,
		jobs * 1e3 / t_all);
	mvm_pool_destroy(pool);
	return bad ? 1 : 0;
}

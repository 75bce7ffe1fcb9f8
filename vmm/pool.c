/* SPDX-License-Identifier: MIT */
/*
 * A warm pool of restored VMs (contract in mvm.h): `size` VMs restored from
 * one snapshot wait, paused, for a job; a refill thread restores a new one
 * whenever one is taken. Restored VMs share the snapshot's memory pages
 * until they write them (MAP_PRIVATE), so a waiting VM costs its vCPU and
 * device state plus the few pages the restore touched.
 */
#include "vmm/mvm.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POOL_MAX 64

struct mvm_pool {
	char dir[PATH_MAX];
	unsigned size;
	pthread_t refill;
	pthread_mutex_t lock;
	pthread_cond_t changed;
	struct mvm_vm *ready[POOL_MAX];
	unsigned n;
	int stopping;
	int failed; /* the refill thread's last restore failed: it stops */
	char err[256];
};

static void *refill_thread(void *arg)
{
	struct mvm_pool *p = arg;

	pthread_mutex_lock(&p->lock);
	while (!p->stopping) {
		struct mvm_vm *vm;
		char err[256];
		int rc;

		if (p->n >= p->size || p->failed) {
			pthread_cond_wait(&p->changed, &p->lock);
			continue;
		}
		pthread_mutex_unlock(&p->lock);
		rc = mvm_vm_restore(p->dir, &vm, err, sizeof(err));
		pthread_mutex_lock(&p->lock);
		if (rc < 0) {
			mvm_vm_destroy(vm);
			p->failed = 1;
			snprintf(p->err, sizeof(p->err), "%s", err);
		} else if (p->stopping || p->n >= p->size) {
			mvm_vm_destroy(vm);
		} else {
			p->ready[p->n++] = vm;
		}
		pthread_cond_broadcast(&p->changed);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int mvm_pool_create(const char *dir, unsigned size, struct mvm_pool **out,
		    char *err, size_t errlen)
{
	struct mvm_pool *p;
	struct mvm_vm *vm;
	int rc;

	*out = NULL;
	if (size < 1 || size > POOL_MAX) {
		snprintf(err, errlen, "pool size must be 1..%d", POOL_MAX);
		return -EINVAL;
	}
	if (strlen(dir) >= sizeof(p->dir)) {
		snprintf(err, errlen, "%s: path too long", dir);
		return -ENAMETOOLONG;
	}
	/* One restore up front: a bad snapshot fails here, not later. */
	rc = mvm_vm_restore(dir, &vm, err, errlen);
	if (rc < 0) {
		mvm_vm_destroy(vm);
		return rc;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		mvm_vm_destroy(vm);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	snprintf(p->dir, sizeof(p->dir), "%s", dir);
	p->size = size;
	p->ready[p->n++] = vm;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->changed, NULL);
	rc = -pthread_create(&p->refill, NULL, refill_thread, p);
	if (rc < 0) {
		snprintf(err, errlen, "pool thread: %s", strerror(-rc));
		mvm_vm_destroy(vm);
		pthread_mutex_destroy(&p->lock);
		pthread_cond_destroy(&p->changed);
		free(p);
		return rc;
	}
	*out = p;
	return 0;
}

int mvm_pool_take(struct mvm_pool *p, const struct mvm_config *cfg,
		  struct mvm_vm **out, char *err, size_t errlen)
{
	struct mvm_vm *vm = NULL;
	int rc;

	*out = NULL;
	pthread_mutex_lock(&p->lock);
	if (p->n > 0)
		vm = p->ready[--p->n];
	pthread_cond_broadcast(&p->changed); /* refill */
	pthread_mutex_unlock(&p->lock);
	if (!vm) {
		/* Empty (a burst of jobs): restore inline rather than wait. */
		rc = mvm_vm_restore(p->dir, &vm, err, errlen);
		if (rc < 0) {
			mvm_vm_destroy(vm);
			return rc;
		}
	}
	rc = mvm_vm_attach_job(vm, cfg, err, errlen);
	if (rc < 0) {
		mvm_vm_destroy(vm);
		return rc;
	}
	*out = vm;
	return 0;
}

unsigned mvm_pool_ready(struct mvm_pool *p)
{
	unsigned n;

	pthread_mutex_lock(&p->lock);
	n = p->n;
	pthread_mutex_unlock(&p->lock);
	return n;
}

void mvm_pool_destroy(struct mvm_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = 1;
	pthread_cond_broadcast(&p->changed);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->refill, NULL);
	while (p->n > 0)
		mvm_vm_destroy(p->ready[--p->n]);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->changed);
	free(p);
}

"""The house rules for Celery tasks, over every task of TrackHub's apps: acknowledged only
once done (a worker lost mid-task leaves it to be redelivered), time-limited, and retried
only for transient database errors (any other error would fail the same way again)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import DataError, IntegrityError, ProgrammingError

from trackhub.celery import app
from trackhub.db import TRANSIENT_DATABASE_ERRORS


@pytest.fixture(scope="module")
def our_tasks() -> list[Any]:
    app.loader.import_default_modules()  # every app's tasks.py, as a worker imports them
    return [task for name, task in app.tasks.items() if name.split(".")[0] in {"ingestion", "profiles", "dashboard"}]


def test_every_apps_tasks_are_found(our_tasks):
    names = {task.name for task in our_tasks}

    assert {"ingestion.tasks.project_data_purge_task", "profiles.tasks.identity_work_drain_task"} <= names
    assert "dashboard.tasks.project_activity_refresh_task" in names


def test_every_task_is_acknowledged_only_once_done(our_tasks):
    assert [task.name for task in our_tasks if task.acks_late is not True] == []


def test_every_task_has_a_time_limit(our_tasks):
    assert [task.name for task in our_tasks if (task.time_limit or app.conf.task_time_limit) is None] == []


def test_every_task_s_soft_limit_comes_just_before_its_own_hard_limit(our_tasks):
    # The worker applies its default soft limit to a task that sets none, however long the
    # task's own hard limit: a one-hour purge would be stopped after 100 s.
    def soft_limit_misplaced(task: Any) -> bool:
        hard = task.time_limit or app.conf.task_time_limit
        soft = task.soft_time_limit or app.conf.task_soft_time_limit
        return not hard - 60 <= soft < hard

    assert [task.name for task in our_tasks if soft_limit_misplaced(task)] == []


def test_every_task_retries_transient_database_errors_only(our_tasks):
    def retries_too_much(task: Any) -> bool:
        retried = tuple(getattr(task, "autoretry_for", ()))
        return not set(retried) <= set(TRANSIENT_DATABASE_ERRORS) or any(
            issubclass(permanent, retried) for permanent in (IntegrityError, DataError, ProgrammingError)
        )

    assert [task.name for task in our_tasks if retries_too_much(task)] == []

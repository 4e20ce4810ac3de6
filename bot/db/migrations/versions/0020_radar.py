"""compatibility radar and /eco health

Revision ID: 0020_radar
Revises: 0001_core
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bot.db.base

revision = "0020_radar"
down_revision = "0001_core"
branch_labels = ("radar",)
depends_on = None

_dt = bot.db.base.UtcDateTime


def upgrade() -> None:
    op.create_table(
        "radar_projects",
        sa.Column("repo_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("full_name", sa.String(length=200), nullable=False),
        sa.Column("default_branch", sa.String(length=100), nullable=False),
        sa.Column("pypi_name", sa.String(length=200), nullable=True),
        sa.Column("name_checked_at", _dt(), nullable=True),
        sa.Column("on_pypi", sa.Boolean(), nullable=True),
        sa.Column("version", sa.String(length=100), nullable=True),
        sa.Column("released_at", _dt(), nullable=True),
        sa.Column("requires_json", sa.Text(), nullable=False),
        sa.Column("requires_dropped", sa.Integer(), nullable=False),
        sa.Column("ci_state", sa.String(length=20), nullable=True),
        sa.Column("ci_url", sa.String(length=300), nullable=True),
        sa.Column("unreleased_commits", sa.Boolean(), nullable=True),
        sa.Column("open_issues", sa.Integer(), nullable=True),
        sa.Column("open_prs", sa.Integer(), nullable=True),
        sa.Column("issues_capped", sa.Boolean(), nullable=False),
        sa.Column("oldest_pr_number", sa.Integer(), nullable=True),
        sa.Column("oldest_pr_title", sa.String(length=300), nullable=True),
        sa.Column("oldest_pr_at", _dt(), nullable=True),
        sa.Column("checked_at", _dt(), nullable=True),
        sa.Column("error", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("repo_id", name=op.f("pk_radar_projects")),
    )
    op.create_index(op.f("ix_radar_projects_checked_at"), "radar_projects", ["checked_at"], unique=False)
    op.create_table(
        "radar_core",
        sa.Column("project", sa.String(length=50), nullable=False),
        sa.Column("version", sa.String(length=100), nullable=False),
        sa.Column("seen_at", _dt(), nullable=False),
        sa.PrimaryKeyConstraint("project", name=op.f("pk_radar_core")),
    )
    op.create_table(
        "radar_etags",
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column("etag", sa.String(length=200), nullable=False),
        sa.Column("fetched_at", _dt(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_radar_etags")),
    )
    op.create_table(
        "radar_posts",
        sa.Column("project", sa.String(length=50), nullable=False),
        sa.Column("version", sa.String(length=100), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("lease_until", _dt(), nullable=True),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.Column("capped", sa.Integer(), nullable=False),
        sa.Column("created_at", _dt(), nullable=False),
        sa.Column("posted_at", _dt(), nullable=True),
        sa.PrimaryKeyConstraint("project", "version", name=op.f("pk_radar_posts")),
    )


def downgrade() -> None:
    op.drop_table("radar_posts")
    op.drop_table("radar_etags")
    op.drop_table("radar_core")
    op.drop_index(op.f("ix_radar_projects_checked_at"), table_name="radar_projects")
    op.drop_table("radar_projects")

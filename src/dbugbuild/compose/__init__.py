"""PURE: a Compose project's builds as dbugbuild runs them: compose's resolved model
(model.py, from `docker compose config --format json`) and each service's build section as
dbugbuild's build options (plan.py). Running compose is the engine's (engine/compose.py);
building the services one after another is compose_project.py's.
"""

from dbugbuild.compose.model import (
    ComposeModelError,
    Project,
    Secret,
    Service,
    build_order,
    project,
)
from dbugbuild.compose.plan import ServicePlan, default_image, plan, shown_path

__all__ = [
    "ComposeModelError",
    "Project",
    "Secret",
    "Service",
    "ServicePlan",
    "build_order",
    "default_image",
    "plan",
    "project",
    "shown_path",
]

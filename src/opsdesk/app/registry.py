"""Imports every domain's tables so one MetaData describes the whole schema (for Alembic)."""

from opsdesk.auth import models as _auth_models  # noqa: F401
from opsdesk.auth.audit import models as _audit_models  # noqa: F401
from opsdesk.conversation import models as _conversation_models  # noqa: F401
from opsdesk.conversation.whatsapp import models as _whatsapp_models  # noqa: F401
from opsdesk.crew.connections import models as _crew_connection_models  # noqa: F401
from opsdesk.crew.runs import models as _crew_run_models  # noqa: F401
from opsdesk.db import idempotency as _idempotency  # noqa: F401
from opsdesk.db.base import Base
from opsdesk.events import models as _event_models  # noqa: F401
from opsdesk.jobs import models as _job_models  # noqa: F401
from opsdesk.knowledge import models as _knowledge_models  # noqa: F401
from opsdesk.orders import models as _order_models  # noqa: F401
from opsdesk.planner import models as _planner_models  # noqa: F401
from opsdesk.planner.runs import models as _planner_run_models  # noqa: F401
from opsdesk.providers import models as _provider_models  # noqa: F401
from opsdesk.voice.calls import models as _voice_call_models  # noqa: F401
from opsdesk.workspaces.settings import models as _workspace_settings_models  # noqa: F401

metadata = Base.metadata

from __future__ import annotations

from django.db import models


class PanelItem(models.Model):
    name = models.CharField(max_length=40)

    class Meta:
        app_label = "panelapp"

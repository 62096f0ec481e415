"""Template tags of the Wagtail-shaped page (views.page), written the way
site menus usually are: an inclusion tag that queries the menu, then one
query per section for its children."""

from typing import Any

from django import template

from shop.models import FirstModel, SecondModel

register = template.Library()


@register.inclusion_tag("shop/includes/menu.html", takes_context=True)
def main_menu(context: Any, current: FirstModel) -> dict[str, Any]:
    sections = []
    for section in SecondModel.objects.order_by("pk")[:10]:                  # 1 query
        children = list(FirstModel.objects.filter(second=section).order_by("pk")[:3])  # 1 per section
        sections.append({"section": section, "children": children,
                         "active": section.pk == current.second_id})
    return {"sections": sections, "request": context.get("request")}

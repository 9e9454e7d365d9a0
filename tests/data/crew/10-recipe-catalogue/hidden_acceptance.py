"""Hidden acceptance tests for 10-recipe-catalogue, run against the generated project (see ../README.md)."""

from __future__ import annotations

from typing import Any

from app.main import app
from fastapi.testclient import TestClient

client = TestClient(app)

SOUP = {"title": "Leek soup", "servings": 4, "minutes": 40, "ingredients": ["leeks", "potatoes", "butter", "stock"]}


def new_recipe(**fields: Any) -> dict[str, Any]:
    response = client.post("/api/recipes", json={**SOUP, **fields})
    assert response.status_code == 201, response.text
    recipe: dict[str, Any] = response.json()
    return recipe


def test_a_recipe_is_read_back_as_created() -> None:
    recipe = new_recipe()
    assert isinstance(recipe["id"], int)
    read = client.get(f"/api/recipes/{recipe['id']}").json()
    assert read["ingredients"] == ["leeks", "potatoes", "butter", "stock"]
    assert read["title"] == "Leek soup" and read["servings"] == 4 and read["minutes"] == 40
    assert read["vegetarian"] is False
    assert recipe["id"] in [r["id"] for r in client.get("/api/recipes").json()]


def test_changing_servings_keeps_the_other_fields() -> None:
    recipe = new_recipe()
    assert client.patch(f"/api/recipes/{recipe['id']}", json={"servings": 6}).status_code == 200
    read = client.get(f"/api/recipes/{recipe['id']}").json()
    assert read["servings"] == 6
    assert {k: v for k, v in read.items() if k != "servings"} == {k: v for k, v in recipe.items() if k != "servings"}


def test_invalid_recipes_are_rejected() -> None:
    changes: list[dict[str, Any]] = [
        {"ingredients": []},
        {"servings": 0},
        {"servings": 51},
        {"minutes": 0},
        {"title": None},
    ]
    for change in changes:
        assert client.post("/api/recipes", json={**SOUP, **change}).status_code == 422, change
    recipe = new_recipe()
    assert client.patch(f"/api/recipes/{recipe['id']}", json={"servings": 0}).status_code == 422


def test_the_list_is_filtered_to_vegetarian_recipes() -> None:
    veggie, meat = new_recipe(vegetarian=True), new_recipe(title="Beef stew")
    listed = client.get("/api/recipes", params={"vegetarian": "true"}).json()
    assert veggie["id"] in [r["id"] for r in listed] and meat["id"] not in [r["id"] for r in listed]
    assert all(r["vegetarian"] is True for r in listed)


def test_a_deleted_recipe_is_not_found() -> None:
    recipe = new_recipe()
    assert client.delete(f"/api/recipes/{recipe['id']}").status_code == 204
    assert client.get(f"/api/recipes/{recipe['id']}").status_code == 404

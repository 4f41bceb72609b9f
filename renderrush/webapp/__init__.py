"""The web app (`renderrush dashboard`): `server` starts Voila on the page `app.ipynb`, whose
`app()` builds one visit's control panel. A front end: imports `renderrush.ui` and below."""

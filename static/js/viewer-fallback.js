// Without a self-hosted build, /neuroglancer/ forwards the state in its fragment to the public viewer.
if (location.hash) location.replace(document.getElementById("public-viewer").href + location.hash);

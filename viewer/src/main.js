// Entry point: Neuroglancer's standalone client. Importing the bundle module
// runs setupDefaultViewer(), which builds the viewer in <body>, binds it to the
// URL hash (`#!{json state}`) and exposes it as `window.viewer`.
import "neuroglancer/unstable/main.bundle.js";

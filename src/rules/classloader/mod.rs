//! The class-loader pack: web applications that were stopped but whose class loader is
//! still alive (INCIDENTS.md, incident 5). Covers Apache Tomcat (7 to 10.1:
//! `org.apache.catalina.loader.WebappClassLoaderBase` and its subclasses
//! `WebappClassLoader`, `ParallelWebappClassLoader`, and TomEE's, which extend it).
//! Other containers (Jetty's `WebAppClassLoader`, WildFly's modules) keep no lifecycle
//! state on the loader and are not covered.

pub mod stopped_webapp;

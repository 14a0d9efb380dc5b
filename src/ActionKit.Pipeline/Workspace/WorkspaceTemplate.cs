using ActionKit.Pipeline.Caching;
using ActionKit.Pipeline.Templates;
using ActionKit.Pipeline.Yaml;

namespace ActionKit.Pipeline.Workspace;

/// <summary>
/// A workspace's <c>template.yaml</c>: the template in force, with inheritance resolved and params.yaml's train
/// overrides applied, so the workspace alone says how its model is trained.
/// </summary>
public static class WorkspaceTemplate
{
    public const string FileName = "template.yaml";

    public static void Save(ModelTemplate template, string path) =>
        AtomicFile.WriteAllText(path, "# The template in force, written by `actionkit build`: inheritance resolved, params.yaml's train overrides applied.\n"
            + Serialize(template));

    /// <summary>The template as template.yaml holds it (without the heading comment).</summary>
    public static string Serialize(ModelTemplate template) => YamlSchema.Serializer.Serialize(template);

    /// <summary>Reads and validates a workspace's template.yaml; throws <see cref="TemplateException"/> naming the file and line.</summary>
    public static ModelTemplate Load(string path) => TemplateCatalog.Embedded.LoadFile(path);
}

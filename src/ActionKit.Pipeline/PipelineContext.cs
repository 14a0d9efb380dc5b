using ActionKit.Data.Hmdb51;
using ActionKit.Pipeline.Distributed;
using ActionKit.Pipeline.Parameters;
using ActionKit.Pipeline.Templates;
using ActionKit.Pipeline.Training;

namespace ActionKit.Pipeline;

/// <summary>
/// Where one pipeline lives (its root folder, where params.yaml is) and the parameters in force; paths in the
/// parameters are relative to <see cref="Root"/>. Every stage declares its inputs and outputs from this.
/// </summary>
public sealed record PipelineContext
{
    /// <summary>The workspace folder when none is given, relative to the root.</summary>
    public const string DefaultWorkspace = "workspace";

    public PipelineContext(string root, PipelineParams parameters, string workspace = DefaultWorkspace)
    {
        Root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(root));
        Params = parameters;
        Workspace = FullPath(workspace);
    }

    public string Root { get; }
    public PipelineParams Params { get; }
    public string Workspace { get; }

    /// <summary>Continue an interrupted training run of the same key from its last checkpoint (not part of any key).</summary>
    public bool Resume { get; init; }

    /// <summary>Loader threads that decode and augment ahead of training and evaluation (not part of any key).</summary>
    public int Workers { get; init; } = Math.Clamp(Environment.ProcessorCount, 1, 4);

    /// <summary>The processes that train together (mpirun); one by default (not part of any key).</summary>
    public ICommunicator Ranks { get; init; } = SingleProcess.Instance;

    /// <summary>The HMDB51-layout dataset that Convert reads.</summary>
    public string DataRoot => FullPath(Params.Data.Root);

    /// <summary>Holds the data stages' outputs, locks (<c>.locks/</c>) and work folders (<c>.work/</c>).</summary>
    public string DataFolder => Path.Combine(Root, "data");

    /// <summary>
    /// Convert's home for the configured dataset, split and source: <c>data/cvat/NAME-splitK-SOURCE/</c>, NAME the data
    /// root's folder name (<c>data/cvat/synth-hmdb51-split1-rawframes/</c>). It holds the CVAT per-video folders
    /// <c>train/</c> and <c>valid/</c> and Convert's lock, so conversions of several datasets and splits live side by side.
    /// </summary>
    public string CvatRoot => Path.Combine(DataFolder, "cvat",
        $"{Path.GetFileName(DataRoot)}-split{Params.Data.Split}-{(Params.Data.Source == Hmdb51Source.Rawframes ? Hmdb51Layout.RawframesFolder : Hmdb51Layout.VideosFolder)}");

    /// <summary>True when the data root is the synthetic dataset's folder, so Synth must produce it.</summary>
    public bool UsesSyntheticData => DataRoot == FullPath(DataParams.SyntheticRoot);

    /// <summary>Per-folder hash caches that let an unchanged dataset be checked without reading it.</summary>
    public string StateFolder => Path.Combine(Root, ".actionkit", "hashes");

    /// <summary>The template file named by params' template, when it is a path rather than an id or name.</summary>
    public string? TemplateFile =>
        Params.Template.EndsWith(".yaml", StringComparison.OrdinalIgnoreCase) || Params.Template.EndsWith(".yml", StringComparison.OrdinalIgnoreCase)
            ? FullPath(Params.Template)
            : null;

    /// <summary>
    /// The template in force: found by id, name or path, inheritance resolved, params' train overrides applied; with a
    /// load_from, the checkpoint's path relative to the root and the normalization its weights expect.
    /// </summary>
    public ModelTemplate ResolveTemplate()
    {
        var catalog = TemplateCatalog.Embedded;
        var template = TemplateCatalog.ApplyOverrides(TemplateFile is { } file ? catalog.LoadFile(file) : catalog.Find(Params.Template), Params.Train);
        return PretrainedFile(template) is { } pretrained ? PretrainedCheckpoint.ForFineTuning(template, DisplayPath(pretrained)) : template;
    }

    /// <summary>The checkpoint a template fine-tunes from (its load_from, relative to the root), or null.</summary>
    public string? PretrainedFile(ModelTemplate template) => string.IsNullOrEmpty(template.LoadFrom) ? null : FullPath(template.LoadFrom);

    /// <summary>An absolute path for <paramref name="path"/>, which may be relative to the root.</summary>
    public string FullPath(string path) => Path.TrimEndingDirectorySeparator(Path.GetFullPath(path, Root));

    /// <summary>How locks and messages show a path: relative to the root with '/' when inside it, else absolute.</summary>
    public string DisplayPath(string path)
    {
        string relative = Path.GetRelativePath(Root, path);
        bool inside = relative != ".." && !relative.StartsWith(".." + Path.DirectorySeparatorChar, StringComparison.Ordinal) && !Path.IsPathRooted(relative);
        return inside ? relative.Replace(Path.DirectorySeparatorChar, '/') : path;
    }
}

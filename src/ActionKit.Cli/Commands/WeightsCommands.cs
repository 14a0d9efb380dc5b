using System.ComponentModel;
using ActionKit.Engine;
using ActionKit.Engine.Checkpoints;
using ActionKit.Engine.Models;
using ActionKit.Pipeline;
using ActionKit.Pipeline.Training;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ActionKit.Cli.Commands;

/// <summary>The import-weights verb's options: the pipeline's (--root, --template), the checkpoint, the folder and the labels.</summary>
public sealed class ImportWeightsSettings : PipelineSettings
{
    [CommandArgument(0, "<CKPT>")]
    [Description("A PyTorch X3D checkpoint (.pth, .pt, .pyth; zip or legacy format) under mmaction2 or PyTorchVideo names.")]
    public string Checkpoint { get; init; } = "";

    [CommandOption("--save-to <DIR>")]
    [Description("The model folder to write: weights.safetensors, label_schema.json, template.yaml, import.json.")]
    public string SaveTo { get; init; } = "";

    [CommandOption("--labels <FILE>")]
    [Description("Class names, one a line (or a label_schema.json). Default: class_0 ... for the checkpoint's classes.")]
    public string? Labels { get; init; }

    public override ValidationResult Validate() => SaveTo.Length == 0 ? ValidationResult.Error("import-weights needs --save-to DIR") : ValidationResult.Success();
}

/// <summary>
/// <c>actionkit import-weights</c>: a PyTorch X3D checkpoint to a model folder like Train's models/, which eval,
/// export, optimize and predict accept. --template gives the preprocessing (the checkpoint gives the network); the
/// folder's template carries the normalization the weights expect. Nothing is written unless the whole import works.
/// </summary>
public sealed class ImportWeightsCommand(IAnsiConsole console) : Command<ImportWeightsSettings>
{
    public override int Execute(CommandContext commandContext, ImportWeightsSettings settings, CancellationToken cancellationToken)
    {
        var context = settings.CreateContext();
        string checkpoint = context.FullPath(settings.Checkpoint);
        var template = PretrainedCheckpoint.ForFineTuning(context.ResolveTemplate(), context.DisplayPath(checkpoint));
        var given = settings.Labels is { } file ? ReadLabels(context.FullPath(file)) : null;
        var pretrained = PretrainedCheckpoint.Open(checkpoint, template, given?.Count);
        var labels = given ?? [.. Enumerable.Range(0, pretrained.Config.NumClasses).Select(i => $"class_{i}")];
        using var backend = new CpuBackend();
        using var model = new X3D(pretrained.Config, backend, (ulong)template.HyperParameters.Seed);
        var report = pretrained.LoadInto(model);

        // Written beside the target, then moved in: a failure leaves the folder as it was.
        string folder = context.FullPath(settings.SaveTo);
        string staging = folder.TrimEnd(Path.DirectorySeparatorChar) + ".importing";
        if (Directory.Exists(staging))
            Directory.Delete(staging, recursive: true);
        ModelCheckpoint.SaveWeights(Path.Combine(staging, TrainedModel.WeightsFileName), model);
        TrainedModel.SaveCompanions(staging, LabelSchema.FromNames(labels), template);
        PretrainedCheckpoint.SaveReport(report, Path.Combine(staging, PretrainedCheckpoint.ReportFileName));
        Directory.CreateDirectory(folder);
        foreach (string written in Directory.GetFiles(staging))
            File.Move(written, Path.Combine(folder, Path.GetFileName(written)), overwrite: true);
        Directory.Delete(staging);

        ImportTable.Print(console, report, context);
        console.MarkupLineInterpolated($"{context.DisplayPath(folder)}: {labels.Count} classes, {PretrainedCheckpoint.NormalizationNote(template)}");
        return 0;
    }

    static List<string> ReadLabels(string path)
    {
        if (path.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
            return [.. LabelSchema.Load(path).Names];
        if (!File.Exists(path))
            throw new TrainingException($"{path}: labels file not found");
        var names = File.ReadAllLines(path).Select(line => line.Trim()).Where(line => line.Length > 0).ToList();
        return names.Count > 0 ? names : throw new TrainingException($"{path}: no class names (one a line)");
    }
}

/// <summary>The export-weights verb's options.</summary>
public sealed class ExportWeightsSettings : CommandSettings
{
    [CommandOption("--names <NAMES>")]
    [Description("mmaction2 or pytorchvideo: whose state dict names and shapes to write.")]
    public UpstreamNames? Names { get; init; }

    [CommandOption("--load-weights <FILE>")]
    [Description("ActionKit weights. Default: workspace/models/weights.safetensors.")]
    public string LoadWeights { get; init; } = Path.Combine("workspace", "models", TrainedModel.WeightsFileName);

    [CommandOption("--save-to <FILE>")]
    [Description("The safetensors file to write. Default: weights.<names>.safetensors beside --load-weights.")]
    public string? SaveTo { get; init; }

    public override ValidationResult Validate() => Names is null
        ? ValidationResult.Error("export-weights needs --names mmaction2|pytorchvideo")
        : ValidationResult.Success();
}

/// <summary>
/// <c>actionkit export-weights</c>: ActionKit weights as a safetensors file under an upstream implementation's names,
/// which <c>model.load_state_dict(safetensors.torch.load_file(path), strict=True)</c> accepts there.
/// </summary>
public sealed class ExportWeightsCommand(IAnsiConsole console) : Command<ExportWeightsSettings>
{
    public override int Execute(CommandContext commandContext, ExportWeightsSettings settings, CancellationToken cancellationToken)
    {
        var names = settings.Names!.Value;
        string weights = Path.GetFullPath(settings.LoadWeights);
        using var backend = new CpuBackend();
        using var model = new X3D(ModelCheckpoint.ReadConfig(weights), backend, seed: 0);
        ModelCheckpoint.LoadWeights(weights, model);
        var tensors = PretrainedWeights.Export(model, names, weights);
        string target = Path.GetFullPath(settings.SaveTo ?? Path.Combine(Path.GetDirectoryName(weights)!, $"weights.{names.ToString().ToLowerInvariant()}.safetensors"));
        SafeTensors.Write(target, tensors);
        console.MarkupLineInterpolated($"{target}: {tensors.Count} tensors under {names} names");
        return 0;
    }
}

/// <summary>An import report as the CLI prints it.</summary>
public static class ImportTable
{
    public static void Print(IAnsiConsole console, ImportReport report, PipelineContext context)
    {
        var table = new Table().AddColumns("import", "count", "keys");
        table.AddRow("source", "", Markup.Escape($"{context.DisplayPath(report.Source)} ({report.Names}, {report.Format} format, state dict: {report.StateDict})"));
        table.AddRow("mapped", $"{report.Mapped.Count}", Markup.Escape(Sample(report.Mapped.Select(m => $"{m.From} -> {m.To}"))));
        table.AddRow("re-initialized", $"{report.Reinitialized.Count}", Markup.Escape(Sample(report.Reinitialized.Select(r => $"{r.Key} ({r.Reason})"))));
        table.AddRow("missing", $"{report.Missing.Count}", Markup.Escape(Sample(report.Missing)));
        table.AddRow("unexpected", $"{report.Unexpected.Count}", Markup.Escape(Sample(report.Unexpected)));
        foreach (string note in report.Notes)
            table.AddRow("note", "", Markup.Escape(note));
        console.Write(table);
    }

    static string Sample(IEnumerable<string> keys)
    {
        var list = keys.ToList();
        return string.Join(", ", list.Take(3)) + (list.Count > 3 ? $", ... ({list.Count - 3} more)" : "");
    }
}

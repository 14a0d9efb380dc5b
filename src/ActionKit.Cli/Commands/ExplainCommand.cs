using System.ComponentModel;
using ActionKit.Pipeline.Explain;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ActionKit.Cli.Commands;

/// <summary>The explain verb's options.</summary>
public sealed class ExplainSettings : CommandSettings
{
    [CommandArgument(0, "<VIDEO>")]
    [Description("A video file, a folder of .jpg frames, or a CVAT video folder (whose actor boxes, when it has them, are outlined and scored).")]
    public string Video { get; init; } = "";

    [CommandOption("--load-weights <FILE>")]
    [Description("Trained weights.safetensors (with label_schema.json and template.yaml beside it); exported and INT8 models have no backward pass. Default: workspace/models/weights.safetensors.")]
    public string LoadWeights { get; init; } = Path.Combine("workspace", "models", "weights.safetensors");

    [CommandOption("--out <DIR>")]
    [Description("Folder for <name>.png (frames, and frames with the map over them), <name>.npy (the map, frames x height x width) and explain.json. Default: explain.")]
    public string Out { get; init; } = "explain";

    [CommandOption("--target <LABEL>")]
    [Description("The class to explain. Default: the predicted one.")]
    public string? Target { get; init; }

    [CommandOption("--method <METHOD>")]
    [Description("gradcam (a layer's activations weighted by the class's gradient) or gradient (|gradient| at each pixel). Default: gradcam.")]
    public string Method { get; init; } = "gradcam";

    [CommandOption("--layer <NAME>")]
    [Description($"Grad-CAM's layer: conv1, res2, res3, res4, res5 or conv5. Default: {Explainer.DefaultLayer}.")]
    public string? Layer { get; init; }

    [CommandOption("--device <DEVICE>")]
    [Description("auto, cpu or cuda.")]
    public string Device { get; init; } = "auto";

    public override ValidationResult Validate() =>
        Method is "gradcam" or "gradient" ? ValidationResult.Success() : ValidationResult.Error($"--method must be gradcam or gradient, got '{Method}'");
}

/// <summary><c>actionkit explain</c>: a saliency map over space and time of one video's prediction.</summary>
public sealed class ExplainCommand(IAnsiConsole console) : Command<ExplainSettings>
{
    public override int Execute(CommandContext context, ExplainSettings settings, CancellationToken cancellationToken)
    {
        var method = settings.Method == "gradient" ? SaliencyMethod.Gradient : SaliencyMethod.GradCam;
        var entry = Explainer.ExplainVideo(settings.LoadWeights, settings.Video, settings.Out, settings.Target, method, settings.Layer,
            settings.Device, cancellationToken);
        console.MarkupLineInterpolated($"predicted {entry.Predicted} ({entry.Probability:F4}); explained {entry.Target} by {entry.Method} at {entry.Layer}");
        if (entry.Pointing is { } pointing)
            console.MarkupLineInterpolated($"  pointing: peak in the actors' boxes {pointing.PeakInBox:F2}, mass {pointing.MassInBox:F2}; the boxes cover {pointing.BoxShare:F2} of the view");
        console.MarkupLineInterpolated($"  {Path.Combine(settings.Out, entry.Image)}, {Path.Combine(settings.Out, entry.Map)}");
        return 0;
    }
}

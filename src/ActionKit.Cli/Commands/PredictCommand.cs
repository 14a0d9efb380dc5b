using System.ComponentModel;
using ActionKit.Pipeline.Evaluation;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ActionKit.Cli.Commands;

/// <summary>The predict verb's options.</summary>
public sealed class PredictSettings : CommandSettings
{
    [CommandArgument(0, "<VIDEO>")]
    [Description("A video file, a folder of .jpg frames, or a CVAT video folder.")]
    public string Video { get; init; } = "";

    [CommandOption("--load-weights <FILE>")]
    [Description("weights.safetensors, model.onnx or openvino.xml (with label_schema.json and template.yaml beside it). Default: workspace/models/weights.safetensors.")]
    public string LoadWeights { get; init; } = Path.Combine("workspace", "models", "weights.safetensors");

    [CommandOption("--device <DEVICE>")]
    [Description("auto, cpu or cuda.")]
    public string Device { get; init; } = "auto";

    [CommandOption("--top <N>")]
    [Description("How many classes to print. Default: 5.")]
    public int Top { get; init; } = 5;
}

/// <summary><c>actionkit predict</c>: the top classes of one video, with the evaluation's preprocessing.</summary>
public sealed class PredictCommand(IAnsiConsole console) : Command<PredictSettings>
{
    public override int Execute(CommandContext context, PredictSettings settings, CancellationToken cancellationToken)
    {
        var predictions = Predictor.Predict(settings.LoadWeights, settings.Video, settings.Device, settings.Top, out string runtime, cancellationToken);
        var table = new Table { Caption = new TableTitle(runtime) }.AddColumns("rank", "label", "probability");
        foreach (var (prediction, rank) in predictions.Select((p, i) => (p, i + 1)))
            table.AddRow($"{rank}", Markup.Escape(prediction.Label), $"{prediction.Probability:F4}");
        console.Write(table);
        return 0;
    }
}

using System.Runtime.InteropServices;
using ActionKit.Cli;
using ActionKit.Cli.Commands;
using ActionKit.Kernels.Cpu;
using ActionKit.Pipeline;
using ActionKit.Pipeline.Distributed;
using Spectre.Console;
using Spectre.Console.Cli;

// The first Ctrl+C (or SIGTERM) cancels the running stage cleanly, leaving no output half-written; a second one kills.
using var cancellation = new CancellationTokenSource();
void Cancel(PosixSignalContext signal)
{
    signal.Cancel = !cancellation.IsCancellationRequested;
    cancellation.Cancel();
}
using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Cancel);
using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Cancel);
if (Console.IsOutputRedirected)
    AnsiConsole.Console.Profile.Width = 1000; // a log file has no width: do not wrap messages at 80 columns
ICommunicator ranks;
try
{
    ranks = MpiCommunicator.FromEnvironment();
}
catch (Exception error) when (ExitCodes.For(error) is { } code)
{
    AnsiConsole.MarkupLineInterpolated($"[red]{error.Message}[/]");
    return code;
}
// Ranks on one machine share its cores: one rank per core runs its kernels on one thread.
CpuParallel.MaxThreads = Math.Max(1, Environment.ProcessorCount / MpiCommunicator.LocalRanks);
try
{
    return await ActionKitApp.RunAsync(args, AnsiConsole.Console, Program.AddCommands, cancellation.Token, ranks);
}
finally
{
    (ranks as IDisposable)?.Dispose();
}

/// <summary>The <c>actionkit</c> command line: one class per verb under Commands/, each registered in <see cref="AddCommands"/>.</summary>
public partial class Program
{
    public static void AddCommands(IConfigurator config)
    {
        config.SetApplicationName("actionkit");
        config.SetApplicationVersion(ActionKitVersion.Current);
        config.AddCommand<FindCommand>("find").WithDescription("List the model templates (TASK, ID, NAME, BASE PATH).");
        config.AddCommand<SynthCommand>("synth").WithDescription("Write the synthetic HMDB51-layout dataset (only for the default data root).");
        config.AddCommand<ConvertCommand>("convert").WithDescription("Convert the HMDB51 split to CVAT folders (data/cvat/<dataset>-split<k>-<source>/train, valid).");
        config.AddCommand<BuildCommand>("build").WithDescription("Write the workspace: template.yaml (the template in force) and data.yaml.");
        config.AddCommand<TrainCommand>("train").WithDescription("Train the workspace's model: models/weights.safetensors, label_schema.json, last.ckpt, metrics.jsonl, curves.png.");
        config.AddCommand<EvalCommand>("eval").WithDescription("Evaluate weights on a CVAT test root: performance.json (frame-wise Accuracy, video-wise metrics), confusion.png.");
        config.AddCommand<ExportCommand>("export").WithDescription("Export the trained weights to ONNX (model.onnx) and OpenVINO IR (openvino.xml + .bin), checked and evaluated.");
        config.AddCommand<OptimizeCommand>("optimize").WithDescription("Quantize the exported model to INT8 (model.int8.onnx with QDQ, openvino.xml with FakeQuantize), evaluated.");
        config.AddCommand<ExplainCommand>("explain").WithDescription("Write a saliency map over space and time of one video's prediction (Grad-CAM or gradient) as a PNG strip and a .npy array.");
        config.AddCommand<ImportWeightsCommand>("import-weights").WithDescription("Import a PyTorch X3D checkpoint (mmaction2 or PyTorchVideo) as a model folder: weights.safetensors, label_schema.json, template.yaml, import.json.");
        config.AddCommand<ExportWeightsCommand>("export-weights").WithDescription("Write ActionKit weights as safetensors under mmaction2 or PyTorchVideo names (load_state_dict strict=True).");
        config.AddCommand<PredictCommand>("predict").WithDescription("Print the top-5 classes of one video file or frames folder.");
    }
}
